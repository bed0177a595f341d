// A repository whose filesystem is full (another file filled it): every
// read-only command and route works, commands that write say so in one
// sentence and write nothing, and freeing space brings writes back.

#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/support/mount_fixture.h"

namespace sendense::test {
namespace {

class FullRepositoryTest : public MountFixture {
 protected:
  void SetUp() override {
    MountFixture::SetUp();
    if (IsSkipped()) {
      return;
    }
    if (::geteuid() != 0) {
      GTEST_SKIP() << "SKIPPED LOUDLY: mounting a small tmpfs needs root";
    }
    small_ = dir_ / "small";
    std::filesystem::create_directory(small_);
    ASSERT_EQ(::mount("tmpfs", small_.c_str(), "tmpfs", 0, "size=48m"), 0);
    repo_ = small_ + "/repo";
    ASSERT_EQ(Sendense("init").status, 0);
  }
  void TearDown() override {
    MountFixture::TearDown();
    serve_.reset();
    if (!small_.empty()) {
      ::umount2(small_.c_str(), MNT_DETACH);
    }
  }
  void Fill() {
    RunCommand("dd if=/dev/zero of=" + Quote(small_ + "/filler") +
               " bs=1M 2>/dev/null");
    RunCommand("sync");
  }
  void Free() { std::filesystem::remove(small_ + "/filler"); }

  std::string small_;
  std::unique_ptr<BackgroundProcess> serve_;
};

TEST_F(FullRepositoryTest, ReadsWorkWritesSaySoAndFreeingSpaceHeals) {
  const std::string first = TakeBackup();
  ASSERT_FALSE(first.empty());
  const auto files_before = RepoFiles();
  Fill();

  // Read-only: list, find, the tree, the API.
  const auto list = SendenseJson("list --json");
  ASSERT_EQ(list["vms"][0]["backups"][0]["name"], first);
  EXPECT_EQ(list["vms"][0]["backups"][0]["state"], "complete");
  EXPECT_EQ(Sendense("find --vm vm1 motd").status, 0);
  Mount();
  RunOrFail("cmp " + Quote(mnt_ + "/vm1/" + first + "/disks/sda.raw") + " " +
            Quote(ConvertPoint(PointFiles(first)[0])));
  const int port = 20000 + ::getpid() % 20000;
  serve_ = std::make_unique<BackgroundProcess>(
      std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) +
          " serve --listen 127.0.0.1:" + std::to_string(port),
      dir_ / "serve.log");
  const std::string curl = "curl -sf -H \"Authorization: Bearer $(cat " +
                           Quote(repo_ + "/api-token") + ")\" " +
                           "http://127.0.0.1:" + std::to_string(port);
  ASSERT_TRUE(Eventually([&] {
    return RunCommand(curl + "/api/v1/health").status == 0;
  })) << RunCommand("cat " + Quote(dir_ / "serve.log")).output;
  const auto backups = RunCommand(curl + "/api/v1/backups");
  EXPECT_EQ(backups.status, 0);
  EXPECT_NE(backups.output.find(first), std::string::npos) << backups.output;
  EXPECT_EQ(RunCommand(curl + "/api/v1/backups/vm1/" + first).status, 0);

  // Writes: one sentence, nothing half written.
  const std::string full = "sendense: the repository's filesystem is full (";
  {
    NbdServer server(dir_.path(), QemuNbdCommand(source_, "b0"));
    const auto r = Sendense(BackupArgs(server));
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.output.rfind(full, 0), 0u) << r.output;
  }
  const auto add = Sendense("vm add web1 --disk sda=nbd://host/x");
  EXPECT_EQ(add.status, 1);
  EXPECT_EQ(add.output.rfind(full, 0), 0u) << add.output;
  EXPECT_EQ(RepoFiles(), files_before);
  EXPECT_EQ(SendenseJson("list --json")["vms"][0]["backups"].size(), 1u);

  // Space back: everything works again, the tree sees the new backup.
  Free();
  ChangeSource("-c 'write -q -P 0x55 5M 64k'");
  const std::string second = TakeBackup("--bitmap b0");
  ASSERT_FALSE(second.empty());
  EXPECT_EQ(Sendense("vm add web1 --disk sda=nbd://host/x").status, 0);
  EXPECT_TRUE(Eventually(
      [&] { return std::filesystem::exists(mnt_ + "/vm1/" + second); }, 5));
  const auto after = RunCommand(curl + "/api/v1/backups/vm1/" + second);
  EXPECT_EQ(after.status, 0) << after.output;
  serve_->Signal(SIGTERM);
  EXPECT_EQ(serve_->Wait(), 0);
  Unmount();
}

}  // namespace
}  // namespace sendense::test

namespace sendense::test {
namespace {

// A merge that runs out of space halfway: one sentence, every point intact,
// the dropped point hidden, and the next prune finishes once space is back.
TEST_F(FullRepositoryTest, AMergeThatRunsOutOfSpaceLosesNothing) {
  const std::string full = TakeBackup();
  // 12 MiB where the full holds nothing: merging it needs new clusters.
  ChangeSource("-c 'write -q -P 0x5a 40M 12M'");
  const std::string second = TakeBackup("--bitmap b0");
  ChangeSource("-c 'write -q -P 0x5b 0 64k'");
  const std::string third = TakeBackup("--bitmap b0");
  ASSERT_FALSE(third.empty());
  const std::string want_second = ConvertPoint(PointFiles(second)[0]);
  const std::string want_third = ConvertPoint(PointFiles(third)[0]);
  // Leave about 4 MiB free: more than a command needs to start, less than
  // the merge needs.
  RunCommand("dd if=/dev/zero of=" + Quote(small_ + "/filler") +
             " bs=1M count=$(( $(df -m --output=avail " + Quote(small_) +
             " | tail -1) - 4 )) 2>/dev/null");
  const auto r = Sendense("forget --vm vm1 " + full);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("filesystem is full"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("nothing is lost"), std::string::npos) << r.output;
  RunOrFail("qemu-img compare -U -f qcow2 -F raw " +
            Quote(repo_ + "/" + PointFiles(second)[0]) + " " +
            Quote(want_second));
  RunOrFail("qemu-img compare -U -f qcow2 -F raw " +
            Quote(repo_ + "/" + PointFiles(third)[0]) + " " +
            Quote(want_third));
  const auto list = SendenseJson("list --json");
  EXPECT_EQ(list["vms"][0]["backups"][0]["state"], "dropping");
  Free();
  const auto again = Sendense("prune --vm vm1 --keep-last 5");
  EXPECT_EQ(again.status, 0) << again.output;
  EXPECT_EQ(PointFiles(full).size(), 0u);
  RunOrFail("qemu-img compare -U -f qcow2 -F raw " +
            Quote(repo_ + "/" + PointFiles(second)[0]) + " " +
            Quote(want_second));
  RunOrFail("qemu-img check -U " + Quote(repo_ + "/" + PointFiles(second)[0]));
  RunOrFail("qemu-img compare -U -f qcow2 -F raw " +
            Quote(repo_ + "/" + PointFiles(third)[0]) + " " +
            Quote(want_third));
}

}  // namespace
}  // namespace sendense::test
