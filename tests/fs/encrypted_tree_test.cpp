// The tree of an encrypted repository: with the key its disks read as the
// source did; without it the points are listed, `list` says they are
// encrypted, and reading a disk fails with EACCES while the log says the
// key is missing.

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/mount_fixture.h"

namespace sendense::test {
namespace {

class EncryptedTreeTest : public MountFixture {
 protected:
  void SetUp() override {
    MountFixture::SetUp();
    if (IsSkipped()) {
      return;
    }
    std::filesystem::remove_all(repo_);
    key_ = dir_ / "tree.key";
    ASSERT_EQ(Sendense("init --encrypt --key-file " + Quote(key_)).status, 0);
  }
  std::string key_;
};

TEST_F(EncryptedTreeTest, DisksReadWithTheKeyAndAreDeniedWithoutIt) {
  MakeSource();
  const std::string p1 = TakeBackup("--bitmap b0");
  const std::string s1 = SnapshotSource("s1");
  ChangeSource("-c 'write -q -P 0x77 6M 192k'");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const std::string p2 = TakeBackup("--bitmap b0");
  const std::string s2 = SnapshotSource("s2");
  const auto listed = SendenseJson("list --vm vm1 --json")["vms"][0]["backups"];
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[1]["points"][0]["encrypted"], true) << listed.dump();
  EXPECT_NE(Sendense("list --vm vm1").output.find("encrypted"),
            std::string::npos);

  Mount();
  RunOrFail("cmp " + Quote(mnt_ + "/vm1/" + p1 + "/disks/sda.raw") + " " +
            Quote(s1));
  RunOrFail("cmp " + Quote(mnt_ + "/vm1/" + p2 + "/disks/sda.raw") + " " +
            Quote(s2));
  Unmount();

  std::filesystem::rename(key_, key_ + ".away");
  Mount();
  EXPECT_TRUE(std::filesystem::exists(mnt_ + "/vm1/" + p2 + "/disks/sda.raw"));
  const std::string disk = mnt_ + "/vm1/" + p2 + "/disks/sda.raw";
  {
    std::ifstream in(disk, std::ios::binary);
    char buf[4096];
    in.read(buf, sizeof buf);
    EXPECT_FALSE(in.good()) << "read an encrypted disk without its key";
  }
  const auto r =
      RunCommand("dd if=" + Quote(disk) + " of=/dev/null bs=4096 count=1");
  EXPECT_NE(r.output.find("Permission denied"), std::string::npos)
      << r.status << ": " << r.output << Slurp(daemon_log_);
  Unmount();
  EXPECT_NE(Slurp(daemon_log_)
                .find("is encrypted and the key of the repository "
                      "is missing"),
            std::string::npos)
      << Slurp(daemon_log_);
}

// A key set while the tree is mounted: the daemon read the VM's key when
// it first opened a point; points written with the new key alone (and
// older ones the old key was taken from) read once it reads the key again.
TEST_F(EncryptedTreeTest, AKeySetWhileMountedReadsTheNewPoints) {
  MakeSource();
  const std::string p1 = TakeBackup("--bitmap b0");
  const std::string s1 = SnapshotSource("s1");
  Mount();
  RunOrFail("cmp " + Quote(mnt_ + "/vm1/" + p1 + "/disks/sda.raw") + " " +
            Quote(s1));
  const std::string vm_key = dir_ / "vm1.key";
  ASSERT_EQ(Sendense("key set --vm vm1 --key-file " + Quote(vm_key)).status, 0);
  ASSERT_EQ(Sendense("key rm --vm vm1 --key-file " + Quote(key_)).status, 0);
  ChangeSource("-c 'write -q -P 0x2f 9M 128k'");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const std::string p2 = TakeBackup("--bitmap b0");
  const std::string s2 = SnapshotSource("s2");
  const std::string disk = mnt_ + "/vm1/" + p2 + "/disks/sda.raw";
  for (int i = 0; i < 200 && !std::filesystem::exists(disk); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  RunOrFail("cmp " + Quote(disk) + " " + Quote(s2));
  RunOrFail("cmp " + Quote(mnt_ + "/vm1/" + p1 + "/disks/sda.raw") + " " +
            Quote(s1));
  Unmount();
}

}  // namespace
}  // namespace sendense::test
