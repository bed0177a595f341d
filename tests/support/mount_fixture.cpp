#include "tests/support/mount_fixture.h"

#include "fs/mount.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

namespace sendense::test {

bool IsSendenseMount(const std::string& path) {
  return fs::IsTreeMounted(path);
}

bool WaitForMount(const std::string& path, bool mounted, double seconds) {
  return Eventually([&] { return IsSendenseMount(path) == mounted; }, seconds);
}

void MountFixture::SetUp() {
  if (::access("/dev/fuse", R_OK | W_OK) != 0) {
    GTEST_SKIP() << "SKIPPED LOUDLY: /dev/fuse is not usable here, so the "
                    "tree cannot be mounted";
  }
  BackupFixture::SetUp();
  mnt_ = dir_ / "mnt";
  daemon_log_ = dir_ / "mount.log";
  ::mkdir(mnt_.c_str(), 0755);
  MakeSource();
}

void MountFixture::TearDown() {
  if (IsSendenseMount(mnt_)) {
    RunCommand("fusermount3 -u -z " + Quote(mnt_));
  }
  daemon_.reset();
}

std::string MountFixture::TakeBackup(const std::string& extra) {
  NbdServer server(dir_.path(), QemuNbdCommand(source_, "b0"));
  const auto result = SendenseJson(BackupArgs(server, extra) + " --json");
  return result.value("name", "");
}

void MountFixture::Mount(const std::string& extra) {
  daemon_ = std::make_unique<BackgroundProcess>(
      std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) + " mount " +
          Quote(mnt_) + " --foreground " + extra,
      daemon_log_);
  // Answering, then listed in mountinfo (a dead mount is listed too, but
  // its statfs fails; a stat could come from the kernel's cache).
  struct statvfs st {};
  ASSERT_TRUE(Eventually([&] {
    return ::statvfs(mnt_.c_str(), &st) == 0 && IsSendenseMount(mnt_);
  })) << "the tree did not come up: "
      << RunCommand("cat " + daemon_log_).output;
}

void MountFixture::Unmount() {
  RunOrFail("fusermount3 -u " + Quote(mnt_));
  EXPECT_EQ(daemon_->Wait(), 0) << RunCommand("cat " + daemon_log_).output;
  EXPECT_FALSE(IsSendenseMount(mnt_));
}

std::string MountFixture::ConvertPoint(const std::string& point_file) {
  static int counter = 0;
  const std::string out =
      dir_ / ("convert-" + std::to_string(counter++) + ".raw");
  RunOrFail("qemu-img convert -f qcow2 -O raw " +
            Quote(repo_ + "/" + point_file) + " " + Quote(out));
  return out;
}

std::vector<std::string> MountFixture::PointFiles(const std::string& backup) {
  std::vector<std::string> files;
  const auto list = SendenseJson("list --json");
  for (const auto& vm : list["vms"]) {
    for (const auto& b : vm["backups"]) {
      if (b["name"] == backup) {
        for (const auto& p : b["points"]) {
          files.push_back(p["file"]);
        }
      }
    }
  }
  return files;
}

void MountFixture::CatalogSql(const std::string& sql) {
  RunOrFail("sqlite3 -cmd '.timeout 10000' " + Quote(repo_ + "/catalog.db") +
            " " + Quote(sql));
}

}  // namespace sendense::test
