// How a guest filesystem is named in the tree: after the backup's disks.

#include <gtest/gtest.h>

#include "engine/guest/appliance.h"

namespace sendense {
namespace {

TEST(FilesystemNameTest, NamedAfterTheBackupsDisks) {
  const std::vector<guest::Drive> drives = {{"a.qcow2", "vda"},
                                            {"b.qcow2", "disk0"}};
  EXPECT_EQ(guest::FilesystemName("/dev/sda1", drives), "vda1");
  EXPECT_EQ(guest::FilesystemName("/dev/sda", drives), "vda");
  EXPECT_EQ(guest::FilesystemName("/dev/sdb2", drives), "disk0p2");
  EXPECT_EQ(guest::FilesystemName("/dev/sdb", drives), "disk0");
  EXPECT_EQ(guest::FilesystemName("/dev/vg0/root", drives), "vg0-root");
  EXPECT_EQ(guest::FilesystemName("/dev/mapper/vg0-home", drives), "vg0-home");
  // A drive the backup does not have keeps the appliance's name.
  EXPECT_EQ(guest::FilesystemName("/dev/sdc1", drives), "sdc1");
  EXPECT_EQ(guest::FilesystemName("/dev/sdab", drives), "sdab");
}

}  // namespace
}  // namespace sendense
