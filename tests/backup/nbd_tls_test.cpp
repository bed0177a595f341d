// NBD sources over TCP with TLS (nbds://): a backup reads a server that
// requires TLS and a client certificate, with the client certificates the
// VM names (vm add --nbd-tls DIR); without TLS, with a client of another
// CA, or with certificates for a plain URI it fails with one sentence and
// publishes nothing.

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "tests/support/backup_fixture.h"
#include "tests/support/pki.h"

namespace sendense::test {
namespace {

class NbdTlsTest : public BackupFixture {
 protected:
  // nbdkit serving `raw` on 127.0.0.1 with TLS required and client
  // certificates checked against `pki.server`'s CA.
  std::unique_ptr<BackgroundProcess> ServeWithTls(const TestPki& pki,
                                                  const std::string& raw,
                                                  int port) {
    auto p = std::make_unique<BackgroundProcess>(
        "nbdkit -f --exit-with-parent -i 127.0.0.1 -p " + std::to_string(port) +
            " --tls=require --tls-certificates=" + Quote(pki.server) +
            " --tls-verify-peer file " + Quote(raw),
        dir_ / "nbdkit.log");
    for (int i = 0; i < 100; ++i) {
      if (RunCommand(
              "nbdinfo --size 'nbds://127.0.0.1:" + std::to_string(port) +
              "/?tls-certificates=" + pki.client + "'")
              .status == 0) {
        return p;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "nbdkit with TLS did not start: "
                  << RunCommand("cat " + Quote(dir_ / "nbdkit.log")).output;
    return p;
  }
};

TEST_F(NbdTlsTest, BacksUpOverTlsAndRefusesWhatIsNotTrusted) {
  MakeSource("64M");
  const std::string raw = dir_ / "disk.raw";
  RunOrFail("qemu-img convert -f qcow2 -O raw " + Quote(source_) + " " +
            Quote(raw));
  const TestPki pki = MakeTestPki(dir_ / "pki");
  const int port = FreeTcpPort();
  const auto server = ServeWithTls(pki, raw, port);
  const std::string uri = "nbds://127.0.0.1:" + std::to_string(port) + "/";

  ASSERT_EQ(Sendense("vm add tls1 --disk sda=" + uri + " --nbd-tls " +
                     Quote(pki.client))
                .status,
            0);
  const auto vm = SendenseJson("vm list --json");
  EXPECT_EQ(vm["vms"][0]["nbd_tls_certificates"], pki.client) << vm.dump();
  const auto r = SendenseJson("backup --vm tls1 --no-index --json");
  ASSERT_EQ(r["points"].size(), 1u) << r.dump();
  const std::string file =
      repo_ + "/" + r["points"][0]["file"].get<std::string>();
  const auto cmp = RunCommand("qemu-img compare -f raw -F qcow2 " + Quote(raw) +
                              " " + Quote(file));
  EXPECT_EQ(cmp.status, 0) << cmp.output;

  // Not trusted, or not asked right: one sentence each, nothing published.
  const auto points_before = SendenseJson("list --json")["vms"][0]["backups"];
  auto bad = Sendense("backup --vm plain --disk sda=nbd://127.0.0.1:" +
                      std::to_string(port) + "/");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("requires TLS: give an nbds:// URI"),
            std::string::npos)
      << bad.output;
  bad = Sendense("backup --vm stranger --disk sda=" + uri + " --nbd-tls " +
                 Quote(pki.other_client));
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("the TLS connection failed"), std::string::npos)
      << bad.output;
  EXPECT_EQ(std::count(bad.output.begin(), bad.output.end(), '\n'), 1)
      << bad.output;
  bad = Sendense("vm add mixed --disk sda=nbd://127.0.0.1:" +
                 std::to_string(port) + "/ --nbd-tls " + Quote(pki.client));
  EXPECT_EQ(bad.output,
            "sendense: TLS certificates are given for nbd://127.0.0.1:" +
                std::to_string(port) +
                "/, which is not an nbds:// (TLS) URI\n");
  bad = Sendense("vm add empty --disk sda=" + uri + " --nbd-tls " +
                 Quote(pki.server));
  EXPECT_NE(bad.output.find("has no client-cert.pem"), std::string::npos)
      << bad.output;
  EXPECT_EQ(SendenseJson("list --json")["vms"][0]["backups"], points_before);
  EXPECT_EQ(SendenseJson("vm list --json")["vms"].size(), 1u);
}

}  // namespace
}  // namespace sendense::test
