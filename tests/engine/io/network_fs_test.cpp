// Which filesystems the catalog treats as network ones (a rollback journal
// there: SQLite's WAL shares memory only within one machine).

#include "engine/io/network_fs.h"

#include <gtest/gtest.h>

namespace sendense {
namespace {

TEST(NetworkFilesystem, KnowsNetworkTypesAndNotLocalOnes) {
  EXPECT_EQ(NetworkFilesystemOfType(0x6969), "nfs");
  EXPECT_EQ(NetworkFilesystemOfType(0xFF534D42L), "smb");
  EXPECT_EQ(NetworkFilesystemOfType(0xFE534D42L), "smb");
  EXPECT_EQ(NetworkFilesystemOfType(0x00C36400), "ceph");
  EXPECT_EQ(NetworkFilesystemOfType(0x65735546), "fuse");
  EXPECT_EQ(NetworkFilesystemOfType(0xEF53), "");      // ext4
  EXPECT_EQ(NetworkFilesystemOfType(0x01021994), "");  // tmpfs
  EXPECT_EQ(NetworkFilesystem("/proc/self"), "");
}

}  // namespace
}  // namespace sendense
