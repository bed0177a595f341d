#include "engine/backup/changed_ranges.h"

#include <gtest/gtest.h>

#include "engine/error.h"

namespace sendense {
namespace {

std::string Refusal(const std::string& json,
                    const std::vector<std::string>& disks) {
  try {
    ParseChangedRanges(json, "r.json", disks);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    return e.what();
  }
  return "";
}

TEST(ChangedRangesTest, ListsSortedAndMergedInEveryForm) {
  const RangeList expected{{0, 8192}, {65536, 4096}};
  // A plain list for the only disk, out of order and overlapping.
  auto c = ParseChangedRanges(
      R"([{"offset": 65536, "length": 4096}, {"offset": 4096, "length": 4096},
          {"offset": 0, "length": 6000}])",
      "r.json", {"sda"});
  EXPECT_EQ(c.disks.at("sda"), expected);
  // vSphere's QueryChangedDiskAreas answer.
  c = ParseChangedRanges(
      R"({"startOffset": 0, "length": 1048576, "changedArea":
          [{"start": 0, "length": 8192}, {"start": 65536, "length": 4096}]})",
      "r.json", {"sda"});
  EXPECT_EQ(c.disks.at("sda"), expected);
  // Per disk.
  c = ParseChangedRanges(R"({"sdb": [], "sda": [{"start": 0, "length": 8192},
                             {"start": 65536, "length": 4096}]})",
                         "r.json", {"sda", "sdb", "sdc"});
  EXPECT_EQ(c.disks.at("sda"), expected);
  EXPECT_TRUE(c.disks.at("sdb").empty());
  EXPECT_FALSE(c.disks.contains("sdc"));
  EXPECT_EQ(c.origin, "r.json");
}

TEST(ChangedRangesTest, RefusesWhatItCannotTrust) {
  EXPECT_EQ(Refusal("[{\"offset\": 1}]", {"sda"}),
            "changed ranges r.json: each range needs \"length\" as a whole "
            "number of bytes, not {\"offset\":1}");
  EXPECT_NE(Refusal("[{\"offset\": -1, \"length\": 2}]", {"sda"}), "");
  EXPECT_NE(Refusal("[{\"offset\": 1.5, \"length\": 2}]", {"sda"}), "");
  EXPECT_EQ(Refusal("[]", {"sda", "sdb"}),
            "changed ranges r.json: the VM has 2 disks: give an object of "
            "disk name to its ranges");
  EXPECT_EQ(Refusal("{\"vdz\": []}", {"sda"}),
            "changed ranges r.json: the VM has no disk 'vdz'");
  EXPECT_EQ(Refusal("nonsense", {"sda"}), "changed ranges r.json: not JSON");
  EXPECT_NE(
      Refusal("[{\"offset\": 18446744073709551615, \"length\": 2}]", {"sda"}),
      "");

  const auto c = ParseChangedRanges("[{\"offset\": 4096, \"length\": 8192}]",
                                    "r.json", {"sda"});
  RequireWithinDisk(c, "sda", 12288);
  try {
    RequireWithinDisk(c, "sda", 8192);
    ADD_FAILURE() << "a range past the disk was taken";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "changed ranges r.json: the range 4096+8192 ends past disk "
                 "sda (8192 bytes): nothing was written");
  }
}

}  // namespace
}  // namespace sendense
