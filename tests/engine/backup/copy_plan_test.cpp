#include "engine/backup/copy_plan.h"

#include <gtest/gtest.h>

namespace sendense {
namespace {

constexpr uint64_t kC = 65536;

TEST(RangesTest, SetOperations) {
  const RangeList a{{0, 100}, {200, 100}};
  const RangeList b{{50, 200}};
  EXPECT_EQ(Intersect(a, b), (RangeList{{50, 50}, {200, 50}}));
  EXPECT_EQ(Subtract(a, b), (RangeList{{0, 50}, {250, 50}}));
  EXPECT_EQ(Subtract(b, a), (RangeList{{100, 100}}));
  EXPECT_EQ(Subtract(a, {}), a);
  EXPECT_EQ(TotalLength(a), 200u);
}

TEST(RangesTest, RoundingToClusters) {
  const RangeList r{{100, 10}, {3 * kC + 5, kC}};
  EXPECT_EQ(RoundOut(r, kC, 10 * kC), (RangeList{{0, kC}, {3 * kC, 2 * kC}}));
  EXPECT_EQ(RoundIn(RangeList{{100, 3 * kC}}, kC, 10 * kC),
            (RangeList{{kC, 2 * kC}}));
  // A zero range reaching the end keeps the disk's short last cluster.
  EXPECT_EQ(RoundIn(RangeList{{kC, kC + 512}}, kC, 2 * kC + 512),
            (RangeList{{kC, kC + 512}}));
  EXPECT_EQ(RoundOut(RangeList{{2 * kC, 10}}, kC, 2 * kC + 512),
            (RangeList{{2 * kC, 512}}));
}

TEST(CopyPlanTest, FullSkipsWholeZeroClustersOnly) {
  // data 0..1.5C, zero 1.5C..5C, data 5C..6C
  const std::vector<NbdConnection::Extent> alloc{
      {0, kC + kC / 2, 0},
      {kC + kC / 2, 3 * kC + kC / 2, kNbdStateZero | kNbdStateHole},
      {5 * kC, kC, 0}};
  const CopyPlan p = BuildCopyPlan(6 * kC, kC, alloc, std::nullopt);
  EXPECT_EQ(p.data, (RangeList{{0, 2 * kC}, {5 * kC, kC}}));
  EXPECT_EQ(p.zeros, (RangeList{{2 * kC, 3 * kC}}));
}

TEST(CopyPlanTest, HoleWithoutZeroFlagIsRead) {
  const std::vector<NbdConnection::Extent> alloc{{0, 4 * kC, kNbdStateHole}};
  const CopyPlan p = BuildCopyPlan(4 * kC, kC, alloc, std::nullopt);
  EXPECT_EQ(p.data, (RangeList{{0, 4 * kC}}));
  EXPECT_TRUE(p.zeros.empty());
}

TEST(CopyPlanTest, IncrementalOnlyTouchesDirtyClusters) {
  const std::vector<NbdConnection::Extent> alloc{
      {0, 4 * kC, 0}, {4 * kC, 4 * kC, kNbdStateZero}};
  const std::vector<NbdConnection::Extent> dirty{
      {0, kC + 1, kNbdStateDirty},
      {kC + 1, 4 * kC, 0},
      {5 * kC + 1, 3 * kC - 1, kNbdStateDirty}};
  const CopyPlan p = BuildCopyPlan(8 * kC, kC, alloc, dirty);
  EXPECT_EQ(p.data, (RangeList{{0, 2 * kC}}));
  EXPECT_EQ(p.zeros, (RangeList{{5 * kC, 3 * kC}}));
}

}  // namespace
}  // namespace sendense
