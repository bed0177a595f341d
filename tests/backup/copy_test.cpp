// Copies to a second repository, immutable points and capacity, through the
// real binary: every copied point compared with qemu-img against its
// original, kill -9 at random moments, a damaged point, the immutable flag
// on a loop-mounted ext4, a backup that cannot fit on a small tmpfs.

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "tests/support/backup_fixture.h"

namespace sendense::test {
namespace {

class CopyTest : public BackupFixture {
 protected:
  void SetUp() override {
    BackupFixture::SetUp();
    MakeSource();
    second_ = dir_ / "second";
    RunOrFail(std::string(SENDENSE_BINARY) + " -r " + Quote(second_) + " init");
  }

  std::string Backup(const std::string& repo = "") {
    NbdServer server(dir_.path(), QemuNbdCommand(source_, "b0"));
    const std::string r = repo.empty() ? repo_ : repo;
    const auto out =
        RunOrFail(std::string(SENDENSE_BINARY) + " -r " + Quote(r) + " " +
                  BackupArgs(server, "--bitmap b0 --json"));
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    return nlohmann::json::parse(out)["name"];
  }

  nlohmann::json Copy(const std::string& to, int expect_status = 0) {
    const auto r =
        RunCommand(std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) +
                   " copy --json --to " + Quote(to) + " 2>/dev/null");
    EXPECT_EQ(r.status, expect_status) << r.output;
    return nlohmann::json::parse(r.output.substr(0, r.output.rfind('}') + 1));
  }

  // Every point of `backup` reads the same in both repositories.
  void ExpectSame(const std::string& to, const std::string& backup) {
    const std::string a = repo_ + "/vms/vm1/sda/" + backup + ".qcow2";
    const std::string b = to + "/vms/vm1/sda/" + backup + ".qcow2";
    EXPECT_EQ(RunCommand("qemu-img compare -q -f qcow2 -F qcow2 " + Quote(a) +
                         " " + Quote(b))
                  .status,
              0)
        << backup;
    EXPECT_EQ(RunCommand("qemu-img check -q " + Quote(b)).status, 0) << backup;
  }

  std::string second_;
};

TEST_F(CopyTest, EveryPointThenOnlyTheNewOne) {
  const std::string p1 = Backup();
  ChangeSource("-c 'write -q -P 0x44 2M 256k'");
  const std::string p2 = Backup();
  ChangeSource("-c 'write -q -P 0x55 20M 64k'");
  const std::string p3 = Backup();

  auto report = Copy(second_);
  ASSERT_EQ(report["backups"].size(), 3u) << report.dump();
  for (const auto& b : report["backups"]) {
    EXPECT_EQ(b["state"], "copied") << b.dump();
    EXPECT_EQ(b["points"][0]["how"], "as stored") << b.dump();
  }
  for (const auto& p : {p1, p2, p3}) {
    ExpectSame(second_, p);
  }
  // The copies are ordinary points there: verified, listed, incremental.
  RunOrFail(std::string(SENDENSE_BINARY) + " -r " + Quote(second_) + " verify");
  const auto listed = nlohmann::json::parse(RunOrFail(
      std::string(SENDENSE_BINARY) + " -r " + Quote(second_) + " list --json"));
  EXPECT_EQ(listed["vms"][0]["backups"][2]["kind"], "incremental");
  EXPECT_TRUE(listed["repository"].contains("free_bytes"));
  const auto source_list = nlohmann::json::parse(RunOrFail(
      std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) + " list --json"));
  EXPECT_EQ(source_list["vms"][0]["backups"][0]["copies"].size(), 1u)
      << source_list.dump();

  // Nothing new: nothing moves. A new point: only it, about its size.
  EXPECT_TRUE(Copy(second_)["backups"].empty());
  ChangeSource("-c 'write -q -P 0x66 30M 128k'");
  const std::string p4 = Backup();
  report = Copy(second_);
  ASSERT_EQ(report["backups"].size(), 1u);
  EXPECT_EQ(report["backups"][0]["backup"], p4);
  EXPECT_LT(report["bytes"].get<uint64_t>(), 2u << 20) << report.dump();
  ExpectSame(second_, p4);

  // The target pruned on its own, and the source merged the new point's
  // parent away: the target lacks its parent, so the point goes whole.
  RunOrFail(std::string(SENDENSE_BINARY) + " -r " + Quote(second_) +
            " forget --vm vm1 " + p3);
  ChangeSource("-c 'write -q -P 0x77 40M 64k'");
  const std::string p5 = Backup();
  RunOrFail(std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) +
            " forget --vm vm1 " + p4);
  report = Copy(second_);
  ASSERT_EQ(report["backups"].size(), 1u) << report.dump();
  EXPECT_EQ(report["backups"][0]["points"][0]["how"], "flattened")
      << report.dump();
  ExpectSame(second_, p5);
}

TEST_F(CopyTest, KilledCopiesPublishNothingBrokenAndResume) {
  // Enough data that a copy takes a moment.
  ChangeSource("-c 'write -q -P 0x12 0 48M'");
  Backup();
  ChangeSource("-c 'write -q -P 0x13 8M 24M'");
  Backup();
  std::mt19937 rng(5);
  for (int round = 0; round < 5; ++round) {
    BackgroundProcess copy(std::string(SENDENSE_BINARY) + " -r " +
                               Quote(repo_) + " copy --to " + Quote(second_),
                           dir_ / "copy.log");
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 150));
    copy.Signal(SIGKILL);
    copy.Wait();
    // Whatever is published there reads right.
    const auto listed =
        nlohmann::json::parse(RunOrFail(std::string(SENDENSE_BINARY) + " -r " +
                                        Quote(second_) + " list --json"));
    if (!listed["vms"].empty()) {
      for (const auto& b : listed["vms"][0]["backups"]) {
        if (b["state"] == "complete") {
          ExpectSame(second_, b["name"]);
        }
      }
    }
  }
  const auto report = Copy(second_);
  const auto listed = nlohmann::json::parse(RunOrFail(
      std::string(SENDENSE_BINARY) + " -r " + Quote(second_) + " list --json"));
  ASSERT_EQ(listed["vms"][0]["backups"].size(), 2u) << listed.dump();
  for (const auto& b : listed["vms"][0]["backups"]) {
    EXPECT_EQ(b["state"], "complete");
    ExpectSame(second_, b["name"]);
  }
  // No leftovers: every file there is a published point or its digests.
  for (const auto& e :
       std::filesystem::recursive_directory_iterator(second_ + "/vms")) {
    if (e.is_regular_file()) {
      EXPECT_EQ(e.path().filename().string()[0] == '.', false) << e.path();
    }
  }
}

// A copy and a prune of the same VM started a moment apart: they take the
// VM's lock in turn, and whichever comes second says what runs; no failed
// record is left in the target and every copied point reads right.
TEST_F(CopyTest, CopyAndPruneOfOneVmTakeTurns) {
  ChangeSource("-c 'write -q -P 0x12 0 48M'");
  Backup();
  ChangeSource("-c 'write -q -P 0x13 8M 24M'");
  Backup();
  ChangeSource("-c 'write -q -P 0x14 30M 8M'");
  Backup();
  for (const int delay_ms : {10, 30, 50}) {
    BackgroundProcess copy(std::string(SENDENSE_BINARY) + " -r " +
                               Quote(repo_) + " copy --to " + Quote(second_),
                           dir_ / "copy.log");
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    const auto prune = Sendense("prune --vm vm1 --keep-last 2");
    const int copied = copy.Wait();
    std::ifstream log(dir_ / "copy.log");
    const std::string copy_out((std::istreambuf_iterator<char>(log)), {});
    if (prune.status != 0) {
      EXPECT_NE(prune.output.find("is busy: a copy to "), std::string::npos)
          << prune.output;
    }
    if (copied != 0) {
      EXPECT_NE(copy_out.find("is busy: a prune (pid "), std::string::npos)
          << copy_out;
    }
    EXPECT_EQ(copy_out.find("FOREIGN KEY"), std::string::npos) << copy_out;
    const auto listed =
        nlohmann::json::parse(RunOrFail(std::string(SENDENSE_BINARY) + " -r " +
                                        Quote(second_) + " list --json"));
    for (const auto& vm : listed["vms"]) {
      for (const auto& b : vm["backups"]) {
        EXPECT_EQ(b["state"], "complete") << b.dump();
        const std::string name = b["name"];
        if (std::filesystem::exists(repo_ + "/vms/vm1/sda/" + name +
                                    ".qcow2")) {
          ExpectSame(second_, name);
        } else {  // pruned here since: it still reads as a whole image
          EXPECT_EQ(
              RunCommand("qemu-img check -q " +
                         Quote(second_ + "/vms/vm1/sda/" + name + ".qcow2"))
                  .status,
              0)
              << name;
        }
      }
    }
  }
}

TEST_F(CopyTest, DamagedPointsAreRefused) {
  const std::string p1 = Backup();
  ChangeSource("-c 'write -q -P 0x44 2M 256k'");
  const std::string p2 = Backup();
  ChangeSource("-c 'write -q -P 0x45 3M 64k'");
  Backup();
  // A flipped byte in p2's data, found by verify: refused, the rest waits.
  const std::string file = repo_ + "/vms/vm1/sda/" + p2 + ".qcow2";
  const auto map =
      RunOrFail("qemu-img map --output=json -f qcow2 " + Quote(file) +
                " | grep '\"depth\": 0' | grep "
                "'\"data\": true' | head -1");
  const size_t key = map.find("\"offset\": ");
  ASSERT_NE(key, std::string::npos) << map;
  const uint64_t at = std::stoull(map.substr(key + 10)) + 100;
  RunOrFail("printf '\\377' | dd of=" + Quote(file) +
            " bs=1 conv=notrunc status=none seek=" + std::to_string(at));
  RunCommand(std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) + " verify");
  const auto report = Copy(second_, 1);
  ASSERT_EQ(report["backups"].size(), 2u) << report.dump();
  EXPECT_EQ(report["backups"][0]["state"], "copied");
  EXPECT_EQ(report["backups"][1]["state"], "refused");
  EXPECT_NE(report["backups"][1]["error"].get<std::string>().find("damaged"),
            std::string::npos);
  ExpectSame(second_, p1);
}

TEST_F(CopyTest, ABackupThatCannotFitIsRefusedBeforeItWrites) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "SKIPPED LOUDLY: mounting a tmpfs needs root";
  }
  const std::string small = dir_ / "small";
  std::filesystem::create_directories(small);
  RunOrFail("mount -t tmpfs -o size=24M tmpfs " + Quote(small));
  ChangeSource("-c 'write -q -P 0x21 0 40M'");
  const std::string repo = small + "/repo";
  RunOrFail(std::string(SENDENSE_BINARY) + " -r " + Quote(repo) + " init");
  NbdServer server(dir_.path(), QemuNbdCommand(source_, "b0"));
  const auto r = RunCommand(std::string(SENDENSE_BINARY) + " -r " +
                            Quote(repo) + " " + BackupArgs(server));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("needs about"), std::string::npos) << r.output;
  size_t files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(
           repo + "/vms", std::filesystem::directory_options::none)) {
    files += e.is_regular_file();
  }
  EXPECT_EQ(files, 0u) << "nothing written";
  RunCommand("umount " + Quote(small));
}

TEST_F(CopyTest, ImmutablePointsCannotBeDeletedUntilTheyExpire) {
  if (!CanUseLoopDevices()) {
    GTEST_SKIP() << "SKIPPED LOUDLY: the immutable flag needs root and a "
                    "loop-mounted ext4";
  }
  // A filesystem without the flag (ramfs; tmpfs has it since Linux 6.0):
  // refused, nothing created.
  const std::string tmpfs = dir_ / "ramfs";
  std::filesystem::create_directories(tmpfs);
  RunOrFail("mount -t ramfs ramfs " + Quote(tmpfs));
  const auto refused =
      RunCommand(std::string(SENDENSE_BINARY) + " -r " +
                 Quote(tmpfs + "/repo") + " init --immutable-days 1");
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.output.find("cannot make files immutable"),
            std::string::npos)
      << refused.output;
  EXPECT_FALSE(std::filesystem::exists(tmpfs + "/repo/catalog.db"));
  RunCommand("umount " + Quote(tmpfs));

  const std::string image = dir_ / "ext4.img";
  const std::string ext = dir_ / "ext4";
  std::filesystem::create_directories(ext);
  RunOrFail("truncate -s 256M " + Quote(image) + " && mkfs.ext4 -q " +
            Quote(image) + " && mount -o loop " + Quote(image) + " " +
            Quote(ext));
  const std::string repo = ext + "/repo";
  // 0.0001 days: 8.6 s.
  RunOrFail(std::string(SENDENSE_BINARY) + " -r " + Quote(repo) +
            " init --immutable-days 0.0001");
  const auto start = std::chrono::steady_clock::now();
  const std::string p1 = Backup(repo);
  ChangeSource("-c 'write -q -P 0x44 2M 256k'");
  const std::string p2 = Backup(repo);
  const std::string file = repo + "/vms/vm1/sda/" + p1 + ".qcow2";
  const auto attrs = RunOrFail("lsattr " + Quote(file));
  EXPECT_NE(attrs.substr(0, attrs.find(' ')).find('i'), std::string::npos)
      << attrs;
  EXPECT_NE(RunCommand("rm -f " + Quote(file)).status, 0);
  EXPECT_TRUE(std::filesystem::exists(file));
  auto r = RunCommand(std::string(SENDENSE_BINARY) + " -r " + Quote(repo) +
                      " forget --vm vm1 " + p1);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("immutable until"), std::string::npos) << r.output;
  r = RunCommand(std::string(SENDENSE_BINARY) + " -r " + Quote(repo) +
                 " prune --vm vm1 --keep-last 1");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(std::filesystem::exists(file)) << r.output;
  EXPECT_EQ(RunCommand("qemu-img check -q " + Quote(file)).status, 0);

  // Expired: prune clears the flags and proceeds.
  std::this_thread::sleep_until(start + std::chrono::seconds(14));
  r = RunCommand(std::string(SENDENSE_BINARY) + " -r " + Quote(repo) +
                 " prune --vm vm1 --keep-last 1");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(std::filesystem::exists(file)) << r.output;
  const std::string kept = repo + "/vms/vm1/sda/" + p2 + ".qcow2";
  EXPECT_EQ(RunCommand("qemu-img check -q " + Quote(kept)).status, 0);
  RunCommand("chattr -R -i " + Quote(repo) + "; umount " + Quote(ext));
}

// A directory target on a share that is not mounted (here a tmpfs, then
// unmounted): its bare mount point is an empty local directory. Backups
// and copies refuse it in one sentence and write nothing there; a
// repository made there by mistake is not taken for the target's (its
// id differs). The catalog of a local filesystem keeps SQLite's WAL.
TEST_F(CopyTest, AnUnmountedShareIsRefusedAndNothingIsWrittenThere) {
  if (!CanUseLoopDevices()) {
    GTEST_SKIP() << "SKIPPED LOUDLY: mounting a tmpfs needs root";
  }
  Backup();
  const std::string share = dir_ / "share";
  std::filesystem::create_directories(share);
  RunOrFail("mount -t tmpfs -o size=64m sendense-share " + Quote(share));
  const std::string binary = std::string(SENDENSE_BINARY);
  RunOrFail(binary + " -r " + Quote(share) + " init");
  ASSERT_EQ(Sendense("target add nas --dir " + Quote(share)).status, 0);
  EXPECT_EQ(Copy("nas")["backups"].size(), 1u);
  EXPECT_EQ(SendenseJson("target list --json")["targets"][0]["kind"], "dir");
  RunOrFail("umount " + Quote(share));
  ASSERT_TRUE(std::filesystem::is_empty(share));

  const std::string sentence =
      share +
      " is an empty directory, not a Sendense repository: if a "
      "share should be mounted there, nothing is (mount it)";
  NbdServer server(dir_.path(), QemuNbdCommand(source_, "b0"));
  auto r = RunCommand(binary + " -r " + Quote(share) + " " +
                      BackupArgs(server, "--bitmap b0"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find(sentence), std::string::npos) << r.output;
  r = Sendense("copy --to nas");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find(sentence), std::string::npos) << r.output;
  r = Sendense("copy --to " + Quote(share));
  EXPECT_NE(r.output.find(sentence), std::string::npos) << r.output;
  EXPECT_TRUE(std::filesystem::is_empty(share));

  // Made there by mistake: not the target's repository.
  RunOrFail(binary + " -r " + Quote(share) + " init");
  r = Sendense("copy --to nas");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("is not the one target nas was added with (its id "
                          "differs): is the right share mounted there?"),
            std::string::npos)
      << r.output;
  EXPECT_NE(Sendense("target check nas").status, 0);
  EXPECT_FALSE(std::filesystem::exists(share + "/vms/vm1"));

  EXPECT_EQ(RunOrFail("sqlite3 " + Quote(repo_ + "/catalog.db") +
                      " 'PRAGMA journal_mode'"),
            "wal\n");
}

// A directory target keeps what its own policy says, merged there, while
// the source keeps everything.
TEST_F(CopyTest, ADirectoryTargetIsPrunedByItsOwnPolicy) {
  const std::string p1 = Backup();
  ChangeSource("-c 'write -q -P 0x44 2M 256k'");
  const std::string p2 = Backup();
  ChangeSource("-c 'write -q -P 0x55 20M 64k'");
  const std::string p3 = Backup();
  ASSERT_EQ(
      Sendense("target add second --dir " + Quote(second_) + " --keep-last 1")
          .status,
      0);
  EXPECT_EQ(Copy("second")["backups"].size(), 3u);
  const auto r =
      Sendense("target add other --dir " + Quote(second_) + " --full-every 3");
  EXPECT_NE(r.output.find("--full-every is for S3 targets"), std::string::npos)
      << r.output;
  const auto pruned = SendenseJson("prune --target second --json")["prunes"];
  ASSERT_EQ(pruned.size(), 1u);
  EXPECT_EQ(pruned[0]["dropped"], nlohmann::json({p1, p2}));
  EXPECT_EQ(SendenseJson("list --vm vm1 --json")["vms"][0]["backups"].size(),
            3u);
  const auto there = nlohmann::json::parse(
      RunOrFail(std::string(SENDENSE_BINARY) + " -r " + Quote(second_) +
                " list --vm vm1 --json"))["vms"][0]["backups"];
  ASSERT_EQ(there.size(), 1u);
  EXPECT_EQ(there[0]["name"], p3);
  ExpectSame(second_, p3);
}

}  // namespace
}  // namespace sendense::test
