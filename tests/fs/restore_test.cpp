// Restores and exports through the real binary: restored files, QCOW2
// images and NBD targets (qemu-nbd on a blank qcow2 filled with junk first)
// equal the point; what must not be written is refused with nothing
// written; a target failing writes (nbdkit's error filter) fails clean;
// exports serve the point, take writes into an overlay and never into the
// backup, keep prune away, and a killed server is reported.

#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <thread>

#include "tests/support/mount_fixture.h"
#include "tests/support/pki.h"

namespace sendense::test {
namespace {

class RestoreTest : public MountFixture {
 protected:
  void TearDown() override {
    // Servers of exports a failed test left behind.
    RunCommand("pkill -KILL -f " + Quote(repo_ + "/exports/"));
    MountFixture::TearDown();
  }

  // Two points; their raw images (the oracles) by name.
  void TwoPoints() {
    first_ = TakeBackup();
    ChangeSource("-c 'write -q -P 0x5c 5M 3M' -c 'write -q -z 40M 1M'");
    second_ = TakeBackup("--bitmap b0");
    first_raw_ = ConvertPoint(PointFiles(first_).at(0));
    second_raw_ = ConvertPoint(PointFiles(second_).at(0));
  }

  void ExpectSame(const std::string& image, const std::string& oracle) {
    const auto r =
        RunCommand("qemu-img compare -U " + Quote(image) + " " + Quote(oracle));
    EXPECT_EQ(r.status, 0) << image << ": " << r.output;
  }

  // Flips three bytes of the first data cluster a point's own file holds.
  void DamageFirstDataCluster(const std::string& file) {
    const auto map = nlohmann::json::parse(
        RunOrFail("qemu-img map -U -f qcow2 --output=json " + Quote(file)));
    int64_t host = -1;
    for (const auto& e : map) {
      if (e["depth"] == 0 && e["data"] == true && e.contains("offset")) {
        host = e["offset"].get<int64_t>();
        break;
      }
    }
    ASSERT_GE(host, 0);
    RunOrFail("printf '\\xff\\x00\\xff' | dd of=" + Quote(file) +
              " bs=1 seek=" + std::to_string(host + 100) +
              " conv=notrunc status=none");
  }

  std::string first_, second_, first_raw_, second_raw_;
};

TEST_F(RestoreTest, FilesQcow2AndNbdTargetsEqualThePoint) {
  MakeSource();
  TwoPoints();

  // A sparse raw file of the first point.
  const std::string raw = dir_ / "restored.raw";
  const auto r = SendenseJson("restore --vm vm1 --point " + first_ + " --to " +
                              Quote(raw) + " --json");
  EXPECT_EQ(r["backup"], first_);
  EXPECT_EQ(r["target_kind"], "file");
  ExpectSame(raw, first_raw_);
  struct stat st {};
  ASSERT_EQ(::stat(raw.c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), r["size"].get<uint64_t>());
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512,
            r["size"].get<uint64_t>())
      << "the restored file is not sparse";
  EXPECT_EQ(r["data_bytes"].get<uint64_t>() + r["zero_bytes"].get<uint64_t>(),
            r["size"].get<uint64_t>());

  // A standalone QCOW2 of the newest point.
  const std::string qcow2 = dir_ / "restored.qcow2";
  EXPECT_EQ(Sendense("restore --vm vm1 --to " + Quote(qcow2)).status, 0);
  RunOrFail("qemu-img check " + Quote(qcow2));
  EXPECT_EQ(RunOrFail("qemu-img info --output=json " + Quote(qcow2))
                .find("backing-filename"),
            std::string::npos);
  ExpectSame(qcow2, second_raw_);

  // A block device (a loop device over a file of junk): only with --force,
  // and then it reads as the point, its zero ranges zeroed.
  const std::string backing = dir_ / "device.img";
  RunOrFail("head -c 64M /dev/urandom >" + Quote(backing));
  const auto loop = RunCommand("losetup -f --show " + Quote(backing));
  if (loop.status == 0) {
    const std::string dev = loop.output.substr(0, loop.output.find('\n'));
    const auto refused = Sendense("restore --vm vm1 --to " + dev);
    const auto b =
        SendenseJson("restore --vm vm1 --force --to " + dev + " --json");
    const auto cmp = RunCommand("cmp " + dev + " " + Quote(second_raw_));
    RunCommand("losetup -d " + dev);
    EXPECT_NE(refused.output.find("without --force"), std::string::npos)
        << refused.output;
    EXPECT_EQ(b["target_kind"], "block device");
    EXPECT_EQ(cmp.status, 0) << cmp.output;
  } else {
    ADD_FAILURE() << "no loop device for the block device target: "
                  << loop.output;
  }

  // A writable NBD server whose disk holds junk: zero ranges are zeroed.
  const std::string target = dir_ / "target.qcow2";
  RunOrFail("qemu-img create -q -f qcow2 " + Quote(target) + " 64M && " +
            "qemu-io -f qcow2 -c 'write -q -P 0xee 0 64M' " + Quote(target));
  {
    NbdServer server(dir_.path(),
                     "qemu-nbd -f qcow2 -t -k {sock} " + Quote(target));
    const auto n = SendenseJson("restore --vm vm1 --to " + Quote(server.uri()) +
                                " --json");
    EXPECT_EQ(n["target_kind"], "nbd");
  }
  ExpectSame(target, second_raw_);

  // A server that offers multi-conn gets several connections, each
  // flushed; what it holds is read back while it runs.
  const std::string log = dir_ / "nbdkit.log";
  NbdServer multi(dir_.path(),
                  "nbdkit -f -U {sock} --filter=log memory 64M "
                  "logfile=" +
                      Quote(log));
  EXPECT_EQ(Sendense("restore --vm vm1 --to " + Quote(multi.uri())).status, 0);
  // Counted before anything else connects (nbdcopy would too).
  const std::string lines = RunOrFail("grep -c ' Connect ' " + Quote(log));
  EXPECT_GE(std::stoi(lines), 3) << "connections: " << lines;
  const std::string back = dir_ / "multi.raw";
  RunOrFail("nbdcopy " + Quote(multi.uri()) + " " + Quote(back));
  ExpectSame(back, second_raw_);
}

TEST_F(RestoreTest, RefusesWhatItMustNotWriteAndFailsClean) {
  MakeSource();
  TwoPoints();
  // An existing file, without --force: refused and left as it was.
  const std::string existing = dir_ / "existing.raw";
  RunOrFail("echo keep me >" + Quote(existing));
  auto r = Sendense("restore --vm vm1 --to " + Quote(existing));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("the file exists (pass --force"), std::string::npos)
      << r.output;
  EXPECT_EQ(RunOrFail("cat " + Quote(existing)), "keep me\n");
  r = Sendense("restore --vm vm1 --force --to " + Quote(existing));
  EXPECT_EQ(r.status, 0) << r.output;
  ExpectSame(existing, second_raw_);

  // Inside the repository: refused, nothing created.
  r = Sendense("restore --vm vm1 --to " + Quote(repo_ + "/vms/x.raw"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("inside the repository"), std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(repo_ + "/vms/x.raw"));

  // An NBD target smaller than the disk: refused before any write.
  const std::string small = dir_ / "small.qcow2";
  RunOrFail("qemu-img create -q -f qcow2 " + Quote(small) + " 32M");
  {
    NbdServer server(dir_.path(),
                     "qemu-nbd -f qcow2 -t -k {sock} " + Quote(small));
    r = Sendense("restore --vm vm1 --to " + Quote(server.uri()));
  }
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("less than the disk's"), std::string::npos)
      << r.output;
  EXPECT_EQ(RunOrFail("qemu-img map --output=json " + Quote(small))
                .find("\"data\": true"),
            std::string::npos)
      << "something was written to the refused target";

  // A server that fails every data write (its write-zeroes succeed, so
  // some ranges are done first): the restore fails, naming the offset.
  {
    NbdServer server(dir_.path(),
                     "nbdkit -f -U {sock} --filter=error memory 64M "
                     "error-pwrite=EIO error-pwrite-rate=100%");
    r = Sendense("restore --vm vm1 --to " + Quote(server.uri()));
  }
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("failed a write at offset"), std::string::npos)
      << r.output;

  // Names that are not there: one sentence each.
  r = Sendense("restore --vm nosuch --to " + Quote(dir_ / "n.raw"));
  EXPECT_NE(r.output.find("no VM 'nosuch'"), std::string::npos) << r.output;
  r = Sendense("restore --vm vm1 --point 1999-01-01T00.00.00Z --to " +
               Quote(dir_ / "n.raw"));
  EXPECT_NE(r.output.find("no backup '1999-01-01T00.00.00Z'"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "n.raw"));
}

// A full filesystem (a small tmpfs) fails the restore with one sentence and
// leaves no file; a cancelled restore (SIGTERM) neither.
TEST_F(RestoreTest, FullTargetAndCancelLeaveNothingBehind) {
  MakeSource();
  TwoPoints();
  const std::string small = dir_ / "small";
  std::filesystem::create_directories(small);
  if (RunCommand("mount -t tmpfs -o size=1m tmpfs " + Quote(small)).status !=
      0) {
    GTEST_SKIP() << "SKIPPED LOUDLY: cannot mount a tmpfs (not root?)";
  }
  const auto r = Sendense("restore --vm vm1 --to " + Quote(small + "/d.raw"));
  const std::string left = RunCommand("ls -A " + Quote(small)).output;
  RunCommand("umount " + Quote(small));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("No space left"), std::string::npos) << r.output;
  EXPECT_EQ(left, "") << "a failed restore left files behind";

  // SIGTERM while writing to a slow server: cancelled, said so.
  NbdServer slow(dir_.path(),
                 "nbdkit -f -U {sock} --filter=delay memory 64M wdelay=1");
  BackgroundProcess run(std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) +
                            " restore --vm vm1 --to " + Quote(slow.uri()),
                        dir_ / "cancel.log");
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  run.Signal(SIGTERM);
  EXPECT_NE(run.Wait(), 0);
  EXPECT_NE(RunOrFail("cat " + Quote(dir_ / "cancel.log"))
                .find("the restore was cancelled"),
            std::string::npos)
      << RunOrFail("cat " + Quote(dir_ / "cancel.log"));
}

// A point verify found damaged is neither exported nor restored.
TEST_F(RestoreTest, DamagedPointsAreRefused) {
  MakeSource();
  TwoPoints();
  DamageFirstDataCluster(repo_ + "/" + PointFiles(first_).at(0));
  EXPECT_NE(Sendense("verify --vm vm1").status, 0);
  auto r = Sendense("export --vm vm1 --point " + first_);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("is damaged"), std::string::npos) << r.output;
  r = Sendense("restore --vm vm1 --point " + first_ + " --to " +
               Quote(dir_ / "x.raw"));
  EXPECT_NE(r.output.find("is damaged"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "x.raw"));
  EXPECT_EQ(SendenseJson("exports --json").size(), 0u);
}

TEST_F(RestoreTest, ExportsServeThePointTakeWritesAsideAndKeepPruneAway) {
  MakeSource();
  TwoPoints();
  const auto before =
      RunOrFail("cd " + Quote(repo_) + " && sha256sum vms/vm1/sda/*.qcow2");
  const auto ro = SendenseJson("export --vm vm1 --point " + first_ + " --json");
  EXPECT_EQ(ro["state"], "serving");
  const std::string copy = dir_ / "read.raw";
  RunOrFail("nbdcopy " + Quote(ro["uri"].get<std::string>()) + " " +
            Quote(copy));
  ExpectSame(copy, first_raw_);

  const auto rw =
      SendenseJson("export --vm vm1 --point " + first_ + " --writable --json");
  const std::string uri = rw["uri"];
  RunOrFail("qemu-io -f raw -c 'write -q -P 0x77 1M 64k' " + Quote(uri));
  RunOrFail("qemu-io -f raw -c 'read -q -P 0x77 1M 64k' " + Quote(uri));
  // A read-only export refuses writes.
  EXPECT_NE(RunCommand("qemu-io -f raw -c 'write -q 0 64k' " +
                       Quote(ro["uri"].get<std::string>()))
                .status,
            0);

  // Over TCP on loopback too.
  const auto tcp = SendenseJson("export --vm vm1 --point " + first_ +
                                " --listen 127.0.0.1:44593 --json");
  EXPECT_EQ(tcp["uri"], "nbd://127.0.0.1:44593/");
  RunOrFail("nbdcopy " + Quote(tcp["uri"].get<std::string>()) + " " +
            Quote(dir_ / "tcp.raw"));
  ExpectSame(dir_ / "tcp.raw", first_raw_);
  ASSERT_EQ(Sendense("unexport " + std::to_string(tcp["id"].get<int>())).status,
            0);

  const auto list = SendenseJson("exports --json");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_GT(list[1]["overlay_bytes"].get<uint64_t>(), 0u);

  // The exported point is kept by prune and refused by forget.
  const auto f = Sendense("forget --vm vm1 " + first_);
  EXPECT_NE(f.status, 0);
  EXPECT_NE(f.output.find("is exported (export"), std::string::npos)
      << f.output;
  const auto prune = SendenseJson("prune --vm vm1 --keep-last 1 --json");
  EXPECT_EQ(prune["prunes"][0]["dropped"].size(), 0u) << prune.dump();
  EXPECT_NE(prune["prunes"][0].dump().find("\"exported\""), std::string::npos)
      << prune.dump();

  // kill -9 of a server is noticed.
  ASSERT_EQ(::kill(ro["pid"].get<int>(), SIGKILL), 0);
  EXPECT_TRUE(Eventually(
      [&] { return SendenseJson("exports --json")[0]["state"] == "dead"; }));

  const std::string overlay = rw["overlay"];
  EXPECT_EQ(Sendense("unexport " + std::to_string(rw["id"].get<int>())).status,
            0);
  EXPECT_FALSE(std::filesystem::exists(overlay));
  EXPECT_EQ(Sendense("unexport " + std::to_string(ro["id"].get<int>())).status,
            0);
  EXPECT_EQ(SendenseJson("exports --json").size(), 0u);
  // The backup is byte for byte as it was, and reads as before.
  EXPECT_EQ(
      RunOrFail("cd " + Quote(repo_) + " && sha256sum vms/vm1/sda/*.qcow2"),
      before);
  ExpectSame(repo_ + "/" + PointFiles(first_).at(0), first_raw_);
  EXPECT_EQ(Sendense("forget --vm vm1 " + first_).status, 0);
}

// Damage found by any reader marks the point, without a verify: a restore
// that meets it, an export (which checks the chain before it serves) and a
// copy; each then says so in one sentence and leaves nothing behind.
TEST_F(RestoreTest, DamageFoundByAnyReaderMarksThePoint) {
  MakeSource();
  TwoPoints();
  DamageFirstDataCluster(repo_ + "/" + PointFiles(first_).at(0));
  const auto state = [&] {
    return SendenseJson(
               "list --vm vm1 --json")["vms"][0]["backups"][0]["verify_state"]
        .get<std::string>();
  };
  ASSERT_EQ(state(), "unverified");

  auto r = Sendense("restore --vm vm1 --point " + first_ + " --to " +
                    Quote(dir_ / "x.raw"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("does not match its digest"), std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "x.raw"));
  EXPECT_EQ(state(), "damaged") << "the restore found it";

  CatalogSql("DELETE FROM verifications");
  r = Sendense("export --vm vm1 --point " + first_);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("the point is damaged"), std::string::npos)
      << r.output;
  EXPECT_EQ(SendenseJson("exports --json").size(), 0u);
  EXPECT_EQ(state(), "damaged") << "the export's check found it";

  CatalogSql("DELETE FROM verifications");
  const std::string other = dir_ / "repo2";
  ASSERT_EQ(
      RunCommand(std::string(SENDENSE_BINARY) + " -r " + Quote(other) + " init")
          .status,
      0);
  r = Sendense("copy --to " + Quote(other) + " --vm vm1");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("is damaged"), std::string::npos) << r.output;
  EXPECT_EQ(state(), "damaged") << "the copy found it";
}

// A disk served over TCP is the whole disk to whoever connects: loopback
// only, no privileged port; other addresses only with TLS and client
// certificates of the admin's CA. Export ids are never reused.
TEST_F(RestoreTest, ExportsListenOnLoopbackUnlessTlsIsGiven) {
  MakeSource();
  const std::string point = TakeBackup();
  auto r = Sendense("export --vm vm1 --listen 0.0.0.0:44601");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("exports listen on loopback only"), std::string::npos)
      << r.output;
  r = Sendense("export --vm vm1 --listen 127.0.0.1:80");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("port must be 1024 to 65535"), std::string::npos)
      << r.output;
  EXPECT_EQ(SendenseJson("exports --json").size(), 0u);

  // A CA, a server certificate for 127.0.0.1 and a client certificate.
  const TestPki pki = MakeTestPki(dir_ / "pki");
  const std::string tls = pki.server, client = pki.client;
  const auto e = SendenseJson("export --vm vm1 --listen 0.0.0.0:44601 --tls " +
                              Quote(tls) + " --json");
  ASSERT_EQ(e["state"], "serving") << e.dump();
  EXPECT_EQ(e["uri"], "nbds://0.0.0.0:44601/");
  const std::string size = RunOrFail(
      "nbdinfo --size 'nbds://127.0.0.1:44601/?tls-certificates=" + client +
      "'");
  EXPECT_EQ(std::stoull(size), 64ull << 20);
  EXPECT_NE(RunCommand("nbdinfo --size nbd://127.0.0.1:44601/").status, 0)
      << "served without TLS";
  std::filesystem::remove(client + "/client-cert.pem");
  std::filesystem::remove(client + "/client-key.pem");
  EXPECT_NE(RunCommand("nbdinfo --size 'nbds://127.0.0.1:44601/"
                       "?tls-certificates=" +
                       client + "'")
                .status,
            0)
      << "served to a client without a certificate";
  const int first_id = e["id"];
  ASSERT_EQ(Sendense("unexport " + std::to_string(first_id)).status, 0);
  const auto next = SendenseJson("export --vm vm1 --json");
  EXPECT_GT(next["id"].get<int>(), first_id) << "an ended export's id reused";
  EXPECT_EQ(
      Sendense("unexport " + std::to_string(next["id"].get<int>())).status, 0);
}

// A restore killed with -9 leaves its ".NAME.restoring"; the next restore,
// to any target, removes it (its owner is gone), never a live one's.
TEST_F(RestoreTest, AKilledRestoresTemporaryFileIsReclaimedByTheNext) {
  MakeSource();
  ChangeSource("-c 'write -q -P 0x21 0 60M'");
  const std::string point = TakeBackup();
  const std::string temp = dir_ / ".killed.raw.restoring";
  bool caught = false;
  for (int i = 0; i < 20 && !caught; ++i) {
    BackgroundProcess restore(std::string(SENDENSE_BINARY) + " -r " +
                              Quote(repo_) + " restore --vm vm1 --to " +
                              Quote(dir_ / "killed.raw"));
    for (int t = 0; t < 2000 && !std::filesystem::exists(temp); ++t) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    restore.Signal(SIGKILL);
    restore.Wait();
    caught = std::filesystem::exists(temp) &&
             !std::filesystem::exists(dir_ / "killed.raw");
    std::filesystem::remove(dir_ / "killed.raw");
  }
  ASSERT_TRUE(caught) << "no restore was killed while writing";
  ASSERT_EQ(
      Sendense("restore --vm vm1 --to " + Quote(dir_ / "other.raw")).status, 0);
  EXPECT_FALSE(std::filesystem::exists(temp))
      << "the killed restore's file is still there";
  EXPECT_TRUE(std::filesystem::is_empty(repo_ + "/restoring"));
}

TEST_F(RestoreTest, KeptOverlayIsTheRecoveredDisk) {
  MakeSource();
  TwoPoints();
  const auto rw = SendenseJson("export --vm vm1 --writable --json");
  RunOrFail("qemu-io -f raw -c 'write -q -P 0x42 2M 128k' " +
            Quote(rw["uri"].get<std::string>()));
  const std::string id = std::to_string(rw["id"].get<int>());
  const auto out =
      RunOrFail(std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) +
                " unexport " + id + " --keep-overlay");
  const std::string overlay = rw["overlay"];
  EXPECT_NE(out.find(overlay), std::string::npos) << out;
  EXPECT_EQ(SendenseJson("exports --json")[0]["state"], "ended");
  const std::string standalone = dir_ / "recovered.qcow2";
  RunOrFail("qemu-img convert -O qcow2 " + Quote(overlay) + " " +
            Quote(standalone));
  RunOrFail("qemu-io -f qcow2 -c 'read -q -P 0x42 2M 128k' " +
            Quote(standalone));
  RunOrFail("qemu-io -f raw -c 'write -q -P 0x42 2M 128k' " +
            Quote(second_raw_));
  ExpectSame(standalone, second_raw_);
  EXPECT_EQ(Sendense("unexport " + id).status, 0);
  EXPECT_FALSE(std::filesystem::exists(overlay));
}

}  // namespace
}  // namespace sendense::test
