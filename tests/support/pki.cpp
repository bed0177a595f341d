#include "tests/support/pki.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>

#include "tests/support/test_env.h"

namespace sendense::test {
namespace {

// A CA in `ca_dir`, and a certificate of `kind` ("server" or "client")
// signed by it into `out` (with the CA's certificate beside it), valid
// for `days` (-1: it ended before it began).
void MakeCaAndCertificate(const std::string& ca_dir,
                          const std::string& kind,
                          const std::string& out,
                          int days = 2) {
  std::filesystem::create_directories(ca_dir);
  std::filesystem::create_directories(out);
  const std::string ext =
      kind == "server"
          ? "subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage="
            "serverAuth\\n"
          : "extendedKeyUsage=clientAuth\\n";
  const std::string key = Quote(out + "/" + kind + "-key.pem");
  const std::string cert = Quote(out + "/" + kind + "-cert.pem");
  RunOrFail(
      "cd " + Quote(ca_dir) +
      " && { test -f ca-cert.pem || openssl req -x509 -newkey ec -pkeyopt "
      "ec_paramgen_curve:prime256v1 "
      "-nodes -keyout ca-key.pem -out ca-cert.pem -days 2 -subj /CN=test-ca "
      "2>/dev/null; } && printf '" +
      ext + "' > " + kind +
      ".ext && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
      "-nodes " +
      "-keyout " + key + " -out " + kind +
      ".csr -subj /CN=" + (kind == "server" ? "127.0.0.1" : "client") +
      " 2>/dev/null && openssl x509 -req -in " + kind + ".csr -out " + cert +
      " -extfile " + kind +
      ".ext -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial -days " +
      std::to_string(days) + " 2>/dev/null && cp ca-cert.pem " + Quote(out));
}

}  // namespace

TestPki MakeTestPki(const std::string& dir) {
  TestPki pki{dir + "/server", dir + "/client", dir + "/other-client",
              dir + "/expired-client"};
  MakeCaAndCertificate(dir + "/ca", "server", pki.server);
  MakeCaAndCertificate(dir + "/ca", "client", pki.client);
  MakeCaAndCertificate(dir + "/ca", "client", pki.expired_client, -1);
  MakeCaAndCertificate(dir + "/other-ca", "client", pki.other_client);
  // A named group: QEMU's TLS servers then make no parameters of their
  // own (0.1-1 s each start).
  RunOrFail(
      "openssl genpkey -genparam -algorithm DH -pkeyopt "
      "group:ffdhe2048 -out " +
      Quote(pki.server + "/dh-params.pem"));
  return pki;
}

int FreeTcpPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    throw std::runtime_error("cannot find a free TCP port");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace sendense::test
