// The suspicious-change rules on made-up diffs: what each rule needs to
// fire, and what must not fire.

#include "engine/catalog/suspicion.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <random>

namespace sendense {
namespace {

GuestChange Change(GuestChange::Kind kind,
                   const std::string& path,
                   const std::string& from_path = "") {
  GuestChange c;
  c.kind = kind;
  c.filesystem = "sda1";
  c.path = path;
  c.from_path = from_path;
  c.mode = S_IFREG | 0644;
  c.size = 4096;
  if (kind == GuestChange::Kind::kChanged) {
    c.what = {"size", "content", "mtime"};
  }
  return c;
}

std::vector<EntropySample> Samples(size_t n, double bits) {
  return std::vector<EntropySample>(n, EntropySample{"/x", bits});
}

TEST(SuspicionTest, EntropyOfZerosTextAndRandomBytes) {
  EXPECT_EQ(Entropy(std::string(4096, '\0')), 0);
  EXPECT_LT(Entropy(std::string(4096, 'a') + "line of text\n"), 1);
  std::mt19937 rng(7);
  std::string random(4096, '\0');
  for (char& c : random) {
    c = static_cast<char>(rng());
  }
  EXPECT_GT(Entropy(random), 7.9);
  EXPECT_TRUE(UsuallyDense("/archives/a.ZIP"));
  EXPECT_FALSE(UsuallyDense("/docs/report.txt"));
}

TEST(SuspicionTest, EachRuleFiresOnItsOwnShape) {
  GuestDiff notes;
  for (int d = 0; d < 3; ++d) {
    notes.changes.push_back(
        Change(GuestChange::Kind::kAdded,
               "/d" + std::to_string(d) + "/HOW_TO_DECRYPT.txt"));
  }
  auto r = CheckSuspicion(notes, 1000, 0.05, {});
  EXPECT_TRUE(r.suspicious);
  EXPECT_EQ(r.ransom_notes, 3u);

  GuestDiff renames;
  for (int i = 0; i < 60; ++i) {
    renames.changes.push_back(Change(GuestChange::Kind::kRenamed,
                                     "/f" + std::to_string(i) + ".docx.lockbit",
                                     "/f" + std::to_string(i) + ".docx"));
  }
  r = CheckSuspicion(renames, 1000, 0.05, {});
  EXPECT_TRUE(r.suspicious) << "60 of 1000 renamed to .lockbit";
  r = CheckSuspicion(renames, 10000, 0.05, {});
  EXPECT_FALSE(r.suspicious) << "60 of 10000 is under 5%";

  GuestDiff mass;
  for (int i = 0; i < 400; ++i) {
    mass.changes.push_back(
        Change(GuestChange::Kind::kChanged, "/db/f" + std::to_string(i)));
  }
  EXPECT_TRUE(CheckSuspicion(mass, 1000, 0.05, Samples(20, 7.95)).suspicious);
  EXPECT_FALSE(CheckSuspicion(mass, 1000, 0.05, Samples(20, 4.0)).suspicious)
      << "a mass change of text";
  EXPECT_FALSE(CheckSuspicion(mass, 1000, 0.2, Samples(20, 7.95)).suspicious)
      << "a VM that usually changes 20% (threshold 100%)";
  EXPECT_FALSE(CheckSuspicion(mass, 1000, 0.05, Samples(3, 7.95)).suspicious)
      << "too few samples to judge";
}

TEST(SuspicionTest, UsualChangesAreClean) {
  GuestDiff upgrade;
  for (int i = 0; i < 50; ++i) {
    upgrade.changes.push_back(
        Change(GuestChange::Kind::kChanged, "/usr/lib/l" + std::to_string(i)));
  }
  upgrade.changes.push_back(Change(GuestChange::Kind::kAdded, "/README.txt"));
  EXPECT_FALSE(CheckSuspicion(upgrade, 1000, 0.05, Samples(40, 6)).suspicious);
  // Only a note-like name in one folder: not enough alone.
  GuestDiff one;
  one.changes.push_back(
      Change(GuestChange::Kind::kAdded, "/home/a/restore_files_howto.txt"));
  EXPECT_FALSE(CheckSuspicion(one, 1000, 0.05, {}).suspicious);
  // Dense files are not sampled; notes are not either.
  GuestDiff zips;
  zips.changes.push_back(Change(GuestChange::Kind::kAdded, "/a/b.zip"));
  zips.changes.push_back(Change(GuestChange::Kind::kAdded, "/a/x.bin"));
  zips.changes.push_back(
      Change(GuestChange::Kind::kAdded, "/a/README-DECRYPT.txt"));
  const auto picked = SampleCandidates(zips, 10);
  ASSERT_EQ(picked.size(), 1u);
  EXPECT_EQ(picked[0]->path, "/a/x.bin");
}

}  // namespace
}  // namespace sendense
