#pragma once

#include <string>

namespace sendense::test {

// A private CA with a server and a client certificate, made with openssl
// for one test (valid two days), in the file names qemu, nbdkit and libnbd
// expect; a client signed by another CA and an expired client, which the
// server refuses.
struct TestPki {
  std::string server;          // ca-cert.pem, server-cert.pem, server-key.pem,
                               // dh-params.pem
  std::string client;          // ca-cert.pem, client-cert.pem, client-key.pem
  std::string other_client;    // the same, from a CA the server does not know
  std::string expired_client;  // the same CA, a certificate no longer valid
};

// Makes it under `dir`; the server certificate names 127.0.0.1 and
// localhost.
TestPki MakeTestPki(const std::string& dir);

// A TCP port on 127.0.0.1 that nobody listens on now.
int FreeTcpPort();

}  // namespace sendense::test
