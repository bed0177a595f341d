// A backup of a running guest taken right after it fsynced files: XFS
// and Btrfs hold that metadata only in their log until it is written in
// place. The tree shows the files as the guest would after a crash (the
// log replayed in the appliance's overlay), with the bytes that went in.
// (ext4, with data journaled too, is in mapped_reads_test.cpp.)

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "tests/support/mount_fixture.h"
#include "tests/support/process.h"
#include "tests/support/test_env.h"

namespace sendense::test {
namespace {

constexpr uint64_t kMiB = 1 << 20;

// One partition of the guest disk, loop-mounted on the host.
struct Partition {
  std::string fstype;
  uint64_t start, size;  // bytes
  std::string loop, dir;
};

class JournalReplayTest : public MountFixture {
 protected:
  void SetUp() override {
    MountFixture::SetUp();
    if (IsSkipped()) {
      return;
    }
    if (!CanUseLoopDevices()) {
      GTEST_SKIP() << "SKIPPED LOUDLY: building the guest needs root and "
                      "loop devices";
    }
    disk_ = dir_ / "guest.raw";
    RunOrFail("truncate -s 600M " + Quote(disk_) +
              " && printf 'start=2048, size=655360, type=83\\nstart=657408, "
              "type=83\\n' | sfdisk -q " +
              Quote(disk_));
    parts_ = {
        {"xfs", kMiB, 320 * kMiB, "", dir_ / "xfs"},
        {"btrfs", 657408 * 512, 600 * kMiB - 657408 * 512, "", dir_ / "btrfs"}};
    for (auto& p : parts_) {
      p.loop = RunOrFail("losetup --find --show -o " + std::to_string(p.start) +
                         " --sizelimit " + std::to_string(p.size) + " " +
                         Quote(disk_));
      p.loop.erase(p.loop.find_last_not_of('\n') + 1);
      std::filesystem::create_directories(p.dir);
      // Every mkfs before any mount: mkfs.btrfs takes a loop device of a
      // file that is mounted through another loop device for mounted.
      RunOrFail("mkfs." + p.fstype + " -q " + p.loop);
    }
    for (const auto& p : parts_) {
      RunOrFail("mount " + p.loop + " " + Quote(p.dir) + " && sync -f " +
                Quote(p.dir));
    }
  }

  void TearDown() override {
    for (const auto& p : parts_) {
      if (!p.loop.empty()) {
        RunCommand("umount " + Quote(p.dir) + " 2>/dev/null; losetup -d " +
                   p.loop);
      }
    }
    MountFixture::TearDown();
  }

  std::string disk_;
  std::vector<Partition> parts_;
};

TEST_F(JournalReplayTest, FilesFsyncedJustBeforeTheBackupAreShown) {
  std::mt19937_64 rng(31);
  for (const auto& p : parts_) {
    std::filesystem::create_directories(p.dir + "/docs");
    for (const char* name : {"a.bin", "docs/b.bin", "docs/c.txt"}) {
      const auto bytes = RandomBytes(rng, 100000 + rng() % 300000);
      const int fd =
          ::open((p.dir + "/" + name).c_str(), O_WRONLY | O_CREAT, 0644);
      ASSERT_GE(fd, 0);
      ASSERT_EQ(::write(fd, bytes.data(), bytes.size()),
                static_cast<ssize_t>(bytes.size()));
      ::fsync(fd);
      ::close(fd);
    }
    RunOrFail("sync " + Quote(p.dir + "/docs") + " " + Quote(p.dir));
  }
  // The disk as a crash now would leave it (fsyncs only, nothing settled).
  RunOrFail("cp --sparse=always " + Quote(disk_) + " " +
            Quote(dir_ / "crash.raw") +
            " && qemu-img convert -f raw -O qcow2 " +
            Quote(dir_ / "crash.raw") + " " + Quote(source_) +
            " && qemu-img bitmap --add " + Quote(source_) + " b0");
  const std::string point = TakeBackup();
  ASSERT_FALSE(point.empty());
  const std::string said = RunOrFail(std::string(SENDENSE_BINARY) + " -r " +
                                     Quote(repo_) + " index");
  EXPECT_EQ(said.find("without replaying"), std::string::npos) << said;

  Mount();
  for (size_t i = 0; i < parts_.size(); ++i) {
    const std::string root =
        mnt_ + "/vm1/" + point + "/files/sda" + std::to_string(i + 1) + "/";
    for (const char* name : {"a.bin", "docs/b.bin", "docs/c.txt"}) {
      const std::string want = Slurp(parts_[i].dir + "/" + name);
      ASSERT_FALSE(want.empty());
      const std::string got = Slurp(root + name);
      EXPECT_TRUE(got == want)
          << parts_[i].fstype << " " << name << ": " << got.size()
          << " bytes, not the " << want.size() << " written\n"
          << said;
    }
  }
  Unmount();
}

}  // namespace
}  // namespace sendense::test
