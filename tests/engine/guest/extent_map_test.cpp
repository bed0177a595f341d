// Extent maps: what the in-appliance helper reports is hostile input. The
// daemon turns it into maps only after checking it, and checks a stored
// map again before any byte is read through it.

#include <gtest/gtest.h>

#include <linux/fiemap.h>

#include <limits>
#include <string>
#include <vector>

#include "engine/guest/extent_map.h"
#include "engine/guest/extent_mapper.h"

namespace sendense::guest {
namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

// A partition at 1 MiB of a 100 MiB disk 0.
const std::vector<DeviceSegment> kPartition = {{0, 64 * kMiB, 0, kMiB}};
// An LV in two linear segments on two disks.
const std::vector<DeviceSegment> kLv = {{0, 8 * kMiB, 1, 4 * kMiB},
                                        {8 * kMiB, 8 * kMiB, 0, 32 * kMiB}};
const std::vector<uint64_t> kDisks = {100 * kMiB, 100 * kMiB};

std::optional<std::vector<FileExtent>> Map(const std::vector<RawExtent>& raw,
                                           uint64_t size,
                                           const std::vector<DeviceSegment>& d,
                                           std::string* why) {
  return MapFile(raw, size, d, why);
}

TEST(ExtentMapTest, PartitionOffsetsAndTheFileSizeApply) {
  std::string why;
  // Two extents, the last rounded up to its block; one preallocated past
  // the end of the file (never read).
  const auto map = Map({{0, 4096, 4096, 0},
                        {8192, 40960, 4096, FIEMAP_EXTENT_LAST},
                        {65536, 65536, 4096, FIEMAP_EXTENT_UNWRITTEN}},
                       10000, kPartition, &why);
  ASSERT_TRUE(map) << why;
  EXPECT_EQ(*map,
            (std::vector<FileExtent>{{0, 4096, kMiB + 4096, 0, false},
                                     {8192, 1808, kMiB + 40960, 0, false}}));
  EXPECT_EQ(CheckMap(*map, 10000, kDisks), "");
}

TEST(ExtentMapTest, LinearSegmentsSplitAnExtentAcrossDisks) {
  std::string why;
  const auto map = Map(
      {{0, 6 * kMiB, 4 * kMiB, FIEMAP_EXTENT_UNWRITTEN | FIEMAP_EXTENT_LAST}},
      4 * kMiB, kLv, &why);
  ASSERT_TRUE(map) << why;
  EXPECT_EQ(*map, (std::vector<FileExtent>{
                      {0, 2 * kMiB, 10 * kMiB, 1, true},
                      {2 * kMiB, 2 * kMiB, 32 * kMiB, 0, true}}));
  EXPECT_EQ(CheckDevice(kLv, kDisks), "");
}

TEST(ExtentMapTest, DataThatIsNotPlainExtentsIsRefused) {
  for (const uint32_t flag :
       {FIEMAP_EXTENT_DATA_INLINE, FIEMAP_EXTENT_DATA_TAIL,
        FIEMAP_EXTENT_ENCODED, FIEMAP_EXTENT_DATA_ENCRYPTED,
        FIEMAP_EXTENT_DELALLOC, FIEMAP_EXTENT_UNKNOWN,
        FIEMAP_EXTENT_NOT_ALIGNED}) {
    std::string why;
    EXPECT_FALSE(Map({{0, 0, 4096, flag}}, 100, kPartition, &why)) << flag;
    EXPECT_FALSE(why.empty());
  }
}

TEST(ExtentMapTest, ReportsThatLieAreRefused) {
  std::string why;
  // Outside the filesystem's device.
  EXPECT_FALSE(Map({{0, 64 * kMiB, 4096, 0}}, 4096, kPartition, &why));
  EXPECT_FALSE(Map({{0, kMax - 10, 4096, 0}}, 4096, kPartition, &why));
  // Overflowing, empty, overlapping, out of order.
  EXPECT_FALSE(Map({{kMax - 10, 0, 4096, 0}}, kMax, kPartition, &why));
  EXPECT_FALSE(Map({{0, 0, 0, 0}}, 4096, kPartition, &why));
  EXPECT_FALSE(
      Map({{0, 0, 8192, 0}, {4096, 65536, 4096, 0}}, 16384, kPartition, &why));
  EXPECT_FALSE(
      Map({{8192, 0, 4096, 0}, {0, 65536, 4096, 0}}, 16384, kPartition, &why));
  // Too many pieces.
  std::vector<RawExtent> many;
  for (uint64_t i = 0; i <= kMaxFileExtents; ++i) {
    many.push_back({i * 8192, i * 8192, 4096, 0});
  }
  EXPECT_FALSE(Map(many, many.size() * 8192, kPartition, &why));
  EXPECT_EQ(why, "too many extents");
}

TEST(ExtentMapTest, DevicesOutsideTheDisksAreRefused) {
  EXPECT_NE(CheckDevice({}, kDisks), "");
  EXPECT_NE(CheckDevice({{0, 200 * kMiB, 0, 0}}, kDisks), "");  // too long
  EXPECT_NE(CheckDevice({{0, kMiB, 2, 0}}, kDisks), "");        // no such disk
  EXPECT_NE(CheckDevice({{kMiB, kMiB, 0, 0}}, kDisks), "");     // a gap
  EXPECT_NE(CheckDevice({{0, kMax, 0, 2}}, kDisks), "");        // overflow
}

TEST(ExtentMapTest, StoredMapsAreCheckedBeforeUse) {
  EXPECT_EQ(CheckMap({}, 0, kDisks), "");
  // Past the disk, on a disk the backup does not have, past the file,
  // overlapping, overflowing, empty.
  EXPECT_NE(CheckMap({{0, 4096, 100 * kMiB - 100, 0, false}}, 4096, kDisks),
            "");
  EXPECT_NE(CheckMap({{0, 4096, 0, 2, false}}, 4096, kDisks), "");
  EXPECT_NE(CheckMap({{0, 8192, 0, 0, false}}, 4096, kDisks), "");
  EXPECT_NE(CheckMap({{0, 4096, 0, 0, false}, {2048, 4096, 0, 0, false}}, 8192,
                     kDisks),
            "");
  EXPECT_NE(CheckMap({{kMax - 1, 4096, 0, 0, false}}, kMax, kDisks), "");
  EXPECT_NE(CheckMap({{0, 0, 0, 0, false}}, 4096, kDisks), "");
  std::vector<FileExtent> many(kMaxFileExtents + 1);
  for (size_t i = 0; i < many.size(); ++i) {
    many[i] = {i * 2, 1, 0, 0, false};
  }
  EXPECT_NE(CheckMap(many, kMax, kDisks), "");
}

TEST(ExtentMapTest, PiecesWhereTheApplianceWroteAreNoticed) {
  // The appliance replayed a journal into [10, 11) MiB and [40, 41) MiB of
  // disk 0 and wrote nothing to disk 1.
  const std::vector<std::vector<DiskRange>> rewritten = {
      {{10 * kMiB, kMiB}, {40 * kMiB, kMiB}}, {}};
  const auto piece = [](uint32_t disk, uint64_t at, uint64_t length) {
    return FileExtent{0, length, at, disk, false};
  };
  EXPECT_FALSE(TouchesRewritten({piece(0, 0, 10 * kMiB)}, rewritten));
  EXPECT_TRUE(TouchesRewritten({piece(0, 0, 10 * kMiB + 1)}, rewritten));
  EXPECT_TRUE(TouchesRewritten({piece(0, 11 * kMiB - 1, 4096)}, rewritten));
  EXPECT_FALSE(TouchesRewritten({piece(0, 11 * kMiB, 29 * kMiB)}, rewritten));
  EXPECT_TRUE(TouchesRewritten({piece(0, 0, 4096), piece(0, 40 * kMiB, 512)},
                               rewritten));
  EXPECT_FALSE(TouchesRewritten({piece(1, 10 * kMiB, kMiB)}, rewritten));
  EXPECT_FALSE(TouchesRewritten({piece(2, 10 * kMiB, kMiB)}, rewritten));
  EXPECT_FALSE(TouchesRewritten({}, rewritten));
}

TEST(ExtentMapTest, EncodingRoundTripsAndRefusesGarbage) {
  const std::vector<FileExtent> map = {{0, 4096, kMiB, 0, false},
                                       {8192, 4096, 3 * kMiB, 1, true}};
  EXPECT_EQ(DecodeMap(EncodeMap(map)), map);
  EXPECT_EQ(DecodeMap(""), std::vector<FileExtent>{});
  EXPECT_FALSE(DecodeMap(std::string(31, '\0')));            // not whole pieces
  EXPECT_FALSE(DecodeMap(std::string(32 * 1000000, '\0')));  // 10^6 pieces
  std::string bad_flags = EncodeMap(map);
  bad_flags[28] = 2;
  EXPECT_FALSE(DecodeMap(bad_flags));
}

TEST(HelperOutputTest, AnswersAreParsedInOrder) {
  const auto answers = ParseHelperOutput(
      "D 0 2\nS 0 1048576 sdb 4096\nS 1048576 1048576 sda 0\n"
      "F 1 10 1 fiemap\nE 0 8192 4096 1\n"
      "F 2 ! not a regular file\n"
      "F 3 5000 2 fibmap\nE 0 0 4096 0\nE 8192 4096 4096 0\n",
      "DFFF");
  ASSERT_EQ(answers.size(), 4u);
  EXPECT_EQ(answers[0].error, "");
  ASSERT_EQ(answers[0].segments.size(), 2u);
  EXPECT_EQ(answers[0].segments[0].disk, 1u);
  EXPECT_EQ(answers[0].segments[0].disk_offset, 4096u);
  EXPECT_EQ(answers[0].segments[1].disk, 0u);
  EXPECT_EQ(answers[1].size, 10u);
  EXPECT_FALSE(answers[1].block_map);
  ASSERT_EQ(answers[1].extents.size(), 1u);
  EXPECT_EQ(answers[1].extents[0].physical, 8192u);
  EXPECT_EQ(answers[2].error, "not a regular file");
  EXPECT_TRUE(answers[3].block_map);
  EXPECT_EQ(answers[3].extents.size(), 2u);
}

TEST(HelperOutputTest, ALyingHelperGetsErrorsNotMaps) {
  const auto answers = ParseHelperOutput(
      "D 0 1\nS 0 1048576 /etc/passwd 0\n"  // not a drive
      "F 1 10 3 fiemap\nE 0 8192 4096 1\n"  // cut short
      "F 2 10 1 magic\nE 0 0 4096 0\n"      // unknown method
      "F 3 10 99999999999 fiemap\n"         // absurd count
      "F 9 10 0 fiemap\n"                   // not asked
      "D 4 0\n"                             // kind mismatch
      "F 1 10 0 fiemap\n",                  // answered twice
      "DFFFF");
  ASSERT_EQ(answers.size(), 5u);
  EXPECT_NE(answers[0].error, "");
  EXPECT_NE(answers[1].error, "");
  EXPECT_TRUE(answers[1].extents.empty());
  EXPECT_NE(answers[2].error, "");
  EXPECT_NE(answers[3].error, "");
  EXPECT_EQ(answers[4].error, "no answer");
}

}  // namespace
}  // namespace sendense::guest
