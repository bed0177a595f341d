// HTTPS through the real binary: certificates from a CA the test makes,
// curl with and without that CA, TLS 1.2 and later only, the certificate
// reloaded on SIGHUP for new connections, the repository's own
// self-signed pair, and plain HTTP refused beyond loopback.

#include <signal.h>

#include "tests/web/api_fixture.h"

namespace sendense::test {
namespace {

class TlsTest : public ApiTest {
 protected:
  // A CA, and a server certificate for 127.0.0.1 signed by it under
  // `name` (NAME.pem, NAME-key.pem).
  void MakeCa() {
    ca_ = dir_ / "ca.pem";
    RunOrFail(
        "cd " + Quote(dir_.path()) +
        " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256"
        " -nodes -keyout ca-key.pem -out ca.pem -days 2 -subj /CN=test-ca"
        " 2>&1");
  }
  void MakeServerCert(const std::string& name) {
    RunOrFail("cd " + Quote(dir_.path()) +
              " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256"
              " -nodes -keyout " +
              name + "-key.pem -out " + name +
              ".csr -subj /CN=127.0.0.1 2>&1 && printf "
              "'subjectAltName=IP:127.0.0.1\\n' > san.ext && openssl x509 -req"
              " -in " +
              name +
              ".csr -CA ca.pem -CAkey ca-key.pem"
              " -CAcreateserial -out " +
              name +
              ".pem -days 2 -extfile san.ext"
              " 2>&1");
  }
  std::string Fingerprint(const std::string& pem_command) {
    return RunCommand(pem_command +
                      " | openssl x509 -noout -fingerprint -sha256 2>&1")
        .output;
  }
  std::string ServedFingerprint() {
    return Fingerprint("echo | openssl s_client -connect " +
                       base_.substr(base_.find("//") + 2) + " 2>/dev/null");
  }
  CommandResult Curl(const std::string& extra, const std::string& path) {
    return RunCommand("curl -sS --max-time 10 " + extra + " " + base_ + path +
                      " 2>&1");
  }
  std::string ca_;
};

TEST_F(TlsTest, CaVerifiedTls12PlusAndReloadOnSighup) {
  MakeCa();
  MakeServerCert("one");
  const std::string cert = dir_ / "served.pem";
  const std::string key = dir_ / "served-key.pem";
  RunOrFail("cp " + Quote(dir_ / "one.pem") + " " + Quote(cert) + " && cp " +
            Quote(dir_ / "one-key.pem") + " " + Quote(key));
  Serve("--no-index --tls-cert " + Quote(cert) + " --tls-key " + Quote(key));
  ASSERT_EQ(base_.rfind("https://", 0), 0u) << base_;
  // With the CA: the API answers; without it: the client refuses.
  auto r = Curl("--cacert " + Quote(ca_), "/api/v1/health");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("\"ok\""), std::string::npos) << r.output;
  r = Curl("", "/api/v1/health");
  EXPECT_NE(r.status, 0) << r.output;
  // Plain HTTP to the TLS port gets no answer.
  r = RunCommand("curl -sS --max-time 5 http://" +
                 base_.substr(base_.find("//") + 2) + "/api/v1/health 2>&1");
  EXPECT_EQ(r.output.find("\"ok\""), std::string::npos) << r.output;
  // TLS 1.2 and 1.3 only: s_client names the cipher agreed, or (NONE).
  const std::string hostport = base_.substr(base_.find("//") + 2);
  const auto cipher = [&](const std::string& version) {
    const auto out = RunCommand("echo | openssl s_client -connect " + hostport +
                                " " + version + " 2>&1")
                         .output;
    const auto at = out.find("Cipher is ");
    return at == std::string::npos
               ? std::string("(NONE)")
               : out.substr(at + 10, out.find('\n', at) - at - 10);
  };
  for (const std::string old : {"-tls1", "-tls1_1"}) {
    EXPECT_EQ(cipher(old), "(NONE)") << old;
  }
  for (const std::string ok : {"-tls1_2", "-tls1_3"}) {
    EXPECT_NE(cipher(ok), "(NONE)") << ok;
  }
  // A session cookie over TLS is Secure.
  ASSERT_EQ(Sendense("tenant add acme").status, 0);
  RunOrFail("echo 'a-good-password' | " + std::string(SENDENSE_BINARY) +
            " -r " + Quote(repo_) + " user add ann --tenant acme --role audit");
  r = Curl("--cacert " + Quote(ca_) +
               " -i -H 'Content-Type: application/json' -d "
               "'{\"user\":\"ann@acme\",\"password\":\"a-good-password\"}'",
           "/api/v1/sessions");
  EXPECT_NE(r.output.find("; Secure"), std::string::npos) << r.output;

  // A new certificate in place and SIGHUP: new connections get it.
  const std::string before = ServedFingerprint();
  EXPECT_EQ(before, Fingerprint("cat " + Quote(cert)));
  MakeServerCert("two");
  RunOrFail("cp " + Quote(dir_ / "two.pem") + " " + Quote(cert) + " && cp " +
            Quote(dir_ / "two-key.pem") + " " + Quote(key));
  EXPECT_EQ(ServedFingerprint(), before) << "reloaded before SIGHUP";
  ASSERT_EQ(::kill(serve_->pid(), SIGHUP), 0);
  EXPECT_TRUE(Eventually([&] { return ServedFingerprint() != before; }));
  EXPECT_EQ(ServedFingerprint(), Fingerprint("cat " + Quote(cert)));
  EXPECT_EQ(Curl("--cacert " + Quote(ca_), "/api/v1/health").status, 0);
  // A broken file on SIGHUP: the certificate in use stays.
  RunOrFail("echo broken > " + Quote(key));
  ASSERT_EQ(::kill(serve_->pid(), SIGHUP), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(Curl("--cacert " + Quote(ca_), "/api/v1/health").status, 0);
  EXPECT_NE(Slurp(log_).find("the certificate in use is kept"),
            std::string::npos);
}

TEST_F(TlsTest, SelfSignedOnceAndNoPlainHttpBeyondLoopback) {
  Serve("--no-index --tls");
  const std::string made = repo_ + "/tls/cert.pem";
  // Its fingerprint is logged, and it is what is served.
  const std::string fp = Fingerprint("cat " + Quote(made));
  const std::string hex = fp.substr(fp.find('=') + 1, 20);
  EXPECT_NE(Slurp(log_).find(hex), std::string::npos) << Slurp(log_);
  EXPECT_EQ(RunCommand("curl -sS --max-time 10 --cacert " + Quote(made) +
                       " https://localhost:" +
                       base_.substr(base_.rfind(':') + 1) + "/api/v1/health")
                .status,
            0);
  EXPECT_EQ(RunCommand("stat -c %a " + Quote(repo_ + "/tls/key.pem")).output,
            "600\n");
  serve_.reset();
  // Made once: a restart serves the same certificate.
  base_.clear();
  Serve("--no-index --tls");
  EXPECT_EQ(Fingerprint("cat " + Quote(made)), fp);
  serve_.reset();
  // Beyond loopback: plain HTTP only when asked.
  const auto r = Sendense("serve --listen 0.0.0.0:0");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--insecure-http"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace sendense::test
