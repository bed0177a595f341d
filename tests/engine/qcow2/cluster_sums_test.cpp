// Cluster digests are XXH3-128 as the library defines it, whichever build
// of it hashes (the AVX2 one where the CPU has it); the whole-disk digest
// is derived from a parent's groups as from scratch.

#include <gtest/gtest.h>
#include <xxhash.h>

#include <random>
#include <vector>

#include "engine/qcow2/cluster_sums.h"
#include "engine/qcow2/disk_digest.h"
#include "tests/support/test_env.h"

namespace sendense::qcow2 {
namespace {

std::vector<std::byte> RandomBytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::byte> v(n);
  for (auto& b : v) {
    b = static_cast<std::byte>(rng());
  }
  return v;
}

TEST(ClusterDigestTest, IsTheLibrarysXxh3For128BitsAtEverySize) {
  for (const size_t n : {0, 1, 15, 16, 17, 128, 129, 240, 241, 1000, 4096,
                         65535, 65536, 65537, 2 << 20}) {
    const auto data = RandomBytes(n, static_cast<unsigned>(n));
    const XXH128_hash_t want = XXH3_128bits(data.data(), data.size());
    const Digest got = HashCluster(data);
    EXPECT_EQ(got.high, want.high64) << n;
    EXPECT_EQ(got.low, want.low64) << n;
  }
}

TEST(DiskDigestTest, DerivedFromTheParentEqualsDerivedFromScratch) {
  test::TempDir dir;
  const uint64_t cs = 65536;
  const uint64_t size = 3 * kLeavesPerGroup * cs + 5 * cs + 100;
  const auto full = SumsFile::Create(dir.path() + "/full.sums");
  const auto child = SumsFile::Create(dir.path() + "/child.sums");
  for (const uint64_t c :
       std::vector<uint64_t>{0, 7, kLeavesPerGroup + 1, 3 * kLeavesPerGroup}) {
    full.Put(c, HashCluster(RandomBytes(cs, static_cast<unsigned>(c))));
  }
  // The child changes one group only, once with a zero cluster.
  child.Put(kLeavesPerGroup + 2, HashCluster(RandomBytes(cs, 99)));
  child.Put(kLeavesPerGroup + 1, ZeroClusterDigest(cs));
  const SumsFile parent_chain[] = {
      SumsFile::OpenReadOnly(dir.path() + "/full.sums")};
  const DiskDigest parent = DeriveDiskDigest(size, cs, parent_chain, {});
  ASSERT_EQ(parent.groups.size(), 4u);
  const SumsFile chain[] = {SumsFile::OpenReadOnly(dir.path() + "/child.sums"),
                            SumsFile::OpenReadOnly(dir.path() + "/full.sums")};
  const DiskDigest derived = DeriveDiskDigest(size, cs, chain, parent.groups);
  const DiskDigest scratch = DeriveDiskDigest(size, cs, chain, {});
  EXPECT_EQ(derived.root, scratch.root);
  EXPECT_EQ(derived.groups, scratch.groups);
  EXPECT_NE(derived.root, parent.root);
  EXPECT_EQ(derived.groups[0], parent.groups[0]);
  EXPECT_NE(derived.groups[1], parent.groups[1]);
  EXPECT_EQ(DiskDigest::ParseGroups(derived.GroupsText()), derived.groups);
  EXPECT_EQ(derived.RootText().substr(0, 9), "xxh3-128:");
  EXPECT_EQ(derived.RootText().size(), 9u + 32u);
}

}  // namespace
}  // namespace sendense::qcow2
