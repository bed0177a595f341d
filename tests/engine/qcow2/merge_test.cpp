// MergeIntoBacking against qemu as the oracle: chains of three points are
// written with random patterns (data, zeros hiding older data, clusters
// left to the backing file, compressed clusters, a last partial cluster),
// saved as raw by `qemu-img convert`, then a point is merged away and every
// remaining point must still compare equal (`qemu-img compare`) and check
// clean (`qemu-img check`: no errors, no leaks).

#include "engine/qcow2/merge.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <random>

#include "engine/error.h"
#include "engine/qcow2/point_writer.h"
#include "tests/support/test_env.h"

namespace sendense::qcow2 {
namespace {

using test::Quote;
using test::RunOrFail;

struct Params {
  uint32_t cluster_bits;
  bool compress_parent;
  bool compress_child;
};

void PrintTo(const Params& p, std::ostream* os) {
  *os << "cluster_bits=" << p.cluster_bits << " zstd=" << p.compress_parent
      << "/" << p.compress_child;
}

std::string Name(const testing::TestParamInfo<Params>& info) {
  return "cluster" + std::to_string(1u << info.param.cluster_bits) +
         (info.param.compress_parent ? "_zparent" : "") +
         (info.param.compress_child ? "_zchild" : "");
}

uint64_t Allocated(const std::string& path) {
  struct stat st {};
  ::stat(path.c_str(), &st);
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

class MergeTest : public testing::TestWithParam<Params> {
 protected:
  void SetUp() override {
    const Params p = GetParam();
    cs_ = uint64_t{1} << p.cluster_bits;
    clusters_ = std::min<uint64_t>(300, (uint64_t{40} << 20) / cs_);
    size_ = clusters_ * cs_ - (cs_ > 512 ? cs_ / 2 : 0);  // a partial tail
    rng_.seed(p.cluster_bits * 131 + p.compress_parent * 7 + p.compress_child);
    Write("p0.qcow2", "", p.compress_parent, 0.9, 0.0);
    Write("p1.qcow2", "p0.qcow2", p.compress_child, 0.3, 0.15);
    Write("p2.qcow2", "p1.qcow2", p.compress_child, 0.2, 0.1);
    for (const char* name : {"p0", "p1", "p2"}) {
      RunOrFail("qemu-img convert -f qcow2 -O raw " +
                Quote(dir_ / (std::string(name) + ".qcow2")) + " " +
                Quote(dir_ / (std::string(name) + ".raw")));
    }
  }

  // A point where each cluster holds data with probability `data`, zeros
  // with `zero`, else is left to the backing file.
  void Write(const std::string& name,
             const std::string& backing,
             bool compress,
             double data,
             double zero) {
    PointWriterOptions o;
    o.virtual_size = size_;
    o.cluster_bits = GetParam().cluster_bits;
    o.backing_name = backing;
    o.compress = compress;
    PointWriter w(dir_ / name, o);
    std::uniform_real_distribution<double> pick(0, 1);
    for (uint64_t c = 0; c < clusters_; ++c) {
      const uint64_t len = std::min(cs_, size_ - c * cs_);
      const double r = pick(rng_);
      if (r < data) {
        auto bytes = test::RandomBytes(rng_, len);
        if (compress) {  // compressible: runs of one byte
          for (size_t i = 0; i < bytes.size(); ++i) {
            bytes[i] = bytes[i / 64 * 64];
          }
        }
        w.WriteData(c * cs_, bytes);
      } else if (r < data + zero) {
        w.WriteZeroes(c * cs_, len);
      }
    }
    w.Finish();
  }

  void ExpectSame(const std::string& qcow2, const std::string& raw) {
    RunOrFail("qemu-img compare -f qcow2 -F raw " + Quote(dir_ / qcow2) + " " +
              Quote(dir_ / raw));
  }
  void ExpectClean(const std::string& qcow2) {
    const auto r = test::RunCommand("qemu-img check -f qcow2 " +
                                    Quote(dir_ / qcow2) + " 2>&1");
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("No errors were found"), std::string::npos)
        << r.output;
  }
  void Rename(const std::string& from, const std::string& to) {
    ASSERT_EQ(std::rename((dir_ / from).c_str(), (dir_ / to).c_str()), 0);
  }

  test::TempDir dir_;
  std::mt19937_64 rng_;
  uint64_t cs_ = 0, clusters_ = 0, size_ = 0;
};

TEST_P(MergeTest, DroppingTheFullKeepsEveryOtherPoint) {
  const uint64_t before =
      Allocated(dir_ / "p0.qcow2") + Allocated(dir_ / "p1.qcow2");
  const auto stats = MergeIntoBacking(dir_ / "p0.qcow2", dir_ / "p1.qcow2");
  EXPECT_GT(stats.data_clusters + stats.compressed_clusters, 0u);
  EXPECT_GT(stats.zero_clusters, 0u);
  // Before the rename the child still reads through the merged parent.
  ExpectSame("p1.qcow2", "p1.raw");
  ExpectSame("p2.qcow2", "p2.raw");
  ExpectClean("p0.qcow2");
  ExpectSame("p0.qcow2", "p1.raw");  // the parent now reads as the child
  Rename("p0.qcow2", "p1.qcow2");
  ExpectSame("p1.qcow2", "p1.raw");
  ExpectSame("p2.qcow2", "p2.raw");
  ExpectClean("p1.qcow2");
  ExpectClean("p2.qcow2");
  // Zeros over the full's data and the child's overwrites freed space.
  EXPECT_LT(Allocated(dir_ / "p1.qcow2"), before);
  const auto info =
      RunOrFail("qemu-img info --backing-chain " + Quote(dir_ / "p2.qcow2"));
  EXPECT_EQ(info.find("p0.qcow2"), std::string::npos) << info;
}

TEST_P(MergeTest, DroppingAMiddlePointKeepsItsBackingFile) {
  MergeIntoBacking(dir_ / "p1.qcow2", dir_ / "p2.qcow2");
  Rename("p1.qcow2", "p2.qcow2");
  ExpectSame("p2.qcow2", "p2.raw");
  ExpectSame("p0.qcow2", "p0.raw");
  ExpectClean("p2.qcow2");
  ExpectClean("p0.qcow2");
  const auto info =
      RunOrFail("qemu-img info --backing-chain " + Quote(dir_ / "p2.qcow2"));
  EXPECT_NE(info.find("p0.qcow2"), std::string::npos) << info;
}

TEST_P(MergeTest, MergingAgainGivesTheSameResult) {
  // A crash after the merge and before the rename: the next run merges
  // again into an already merged parent.
  MergeIntoBacking(dir_ / "p0.qcow2", dir_ / "p1.qcow2");
  MergeIntoBacking(dir_ / "p0.qcow2", dir_ / "p1.qcow2");
  ExpectClean("p0.qcow2");
  Rename("p0.qcow2", "p1.qcow2");
  ExpectSame("p1.qcow2", "p1.raw");
  ExpectSame("p2.qcow2", "p2.raw");
}

TEST_P(MergeTest, ThreePointsCollapseIntoOne) {
  MergeIntoBacking(dir_ / "p0.qcow2", dir_ / "p1.qcow2");
  Rename("p0.qcow2", "p1.qcow2");
  MergeIntoBacking(dir_ / "p1.qcow2", dir_ / "p2.qcow2");
  Rename("p1.qcow2", "p2.qcow2");
  ExpectSame("p2.qcow2", "p2.raw");
  ExpectClean("p2.qcow2");
  const auto info = RunOrFail("qemu-img info " + Quote(dir_ / "p2.qcow2"));
  EXPECT_EQ(info.find("backing file"), std::string::npos) << info;
}

INSTANTIATE_TEST_SUITE_P(Patterns,
                         MergeTest,
                         testing::Values(Params{16, false, false},
                                         Params{9, false, false},
                                         Params{12, false, true},
                                         Params{16, true, true},
                                         Params{16, true, false},
                                         Params{21, false, false}),
                         Name);

TEST(MergeRefusalTest, DifferentDiskSizesAreRefused) {
  test::TempDir dir;
  PointWriterOptions o;
  o.virtual_size = 1 << 20;
  PointWriter(dir / "a.qcow2", o).Finish();
  o.virtual_size = 2 << 20;
  o.backing_name = "a.qcow2";
  PointWriter(dir / "b.qcow2", o).Finish();
  try {
    MergeIntoBacking(dir / "a.qcow2", dir / "b.qcow2");
    FAIL() << "merged images of different sizes";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
  }
}

}  // namespace
}  // namespace sendense::qcow2
