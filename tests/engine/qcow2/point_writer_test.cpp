// PointWriter against qemu as the reference: random write patterns are
// written through our writer and the result is compared with the expected
// raw data by `qemu-img compare`, and checked by `qemu-img check`.

#include "engine/qcow2/point_writer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "engine/error.h"
#include "tests/support/test_env.h"

namespace sendense::qcow2 {
namespace {

using test::Quote;
using test::RunOrFail;

struct Params {
  uint32_t cluster_bits;
  bool compress;
  bool overlay;
};

void PrintTo(const Params& p, std::ostream* os) {
  *os << "cluster_bits=" << p.cluster_bits << " compress=" << p.compress
      << " overlay=" << p.overlay;
}

std::string Name(const testing::TestParamInfo<Params>& param_info) {
  return "cluster" + std::to_string(1u << param_info.param.cluster_bits) +
         (param_info.param.compress ? "_zstd" : "") +
         (param_info.param.overlay ? "_overlay" : "_full");
}

class PointWriterRandomTest : public testing::TestWithParam<Params> {};

// Compressible but not constant: a few random bytes repeated.
std::vector<std::byte> TextLike(std::mt19937_64& rng, size_t n) {
  std::vector<std::byte> word = test::RandomBytes(rng, 24);
  std::vector<std::byte> out(n);
  for (size_t i = 0; i < n; ++i) {
    out[i] = word[i % word.size()] ^ std::byte(i / 4096);
  }
  return out;
}

TEST_P(PointWriterRandomTest, MatchesExpectedRawAndChecksClean) {
  const Params p = GetParam();
  const uint64_t cs = uint64_t{1} << p.cluster_bits;
  test::TempDir dir;
  std::mt19937_64 rng(p.cluster_bits * 31 + p.compress * 7 + p.overlay);

  const uint64_t clusters = std::min<uint64_t>(160, (uint64_t{48} << 20) / cs);
  // A virtual size that is not a whole number of clusters when possible.
  const uint64_t tail = cs > 512 ? 512 * (1 + rng() % (cs / 512 - 1)) : 0;
  const uint64_t size = clusters * cs + tail;
  const uint64_t total_clusters = clusters + (tail ? 1 : 0);

  std::vector<std::byte> expected(size);
  std::string backing;
  if (p.overlay) {
    // A base shorter than the overlay, full of random data, written by qemu.
    const uint64_t base_size = (clusters / 2) * cs + 4096;
    auto base_data = test::RandomBytes(rng, base_size);
    test::WriteFile(dir / "base.raw", base_data);
    RunOrFail("qemu-img convert -f raw -O qcow2 -o cluster_size=65536 " +
              Quote(dir / "base.raw") + " " + Quote(dir / "base.qcow2"));
    std::memcpy(expected.data(), base_data.data(), base_size);
    backing = "base.qcow2";
  }

  PointWriterOptions options;
  options.virtual_size = size;
  options.cluster_bits = p.cluster_bits;
  options.backing_name = backing;
  options.compress = p.compress;
  options.l2_cache_bytes = 2 * cs;  // force L2 tables in and out of the cache
  PointWriter writer(dir / "point.qcow2", options);

  // Cut the disk into runs of clusters, each with a random fate, and write
  // them in random order.
  struct Run {
    uint64_t first, count;
    int fate;
  };
  std::vector<Run> runs;
  for (uint64_t c = 0; c < total_clusters;) {
    const uint64_t n = std::min<uint64_t>(1 + rng() % 8, total_clusters - c);
    runs.push_back({c, n, static_cast<int>(rng() % 5)});
    c += n;
  }
  std::shuffle(runs.begin(), runs.end(), rng);
  for (const Run& r : runs) {
    const uint64_t offset = r.first * cs;
    const uint64_t len = std::min(r.count * cs, size - offset);
    switch (r.fate) {
      case 0:
        break;  // left unwritten: backing data (or zeros) shows through
      case 1:
        writer.WriteZeroes(offset, len);
        std::memset(expected.data() + offset, 0, len);
        break;
      case 2: {
        std::vector<std::byte> zeros(len);
        writer.WriteData(offset, zeros);
        std::memset(expected.data() + offset, 0, len);
        break;
      }
      case 3: {
        auto data = test::RandomBytes(rng, len);
        writer.WriteData(offset, data);
        std::memcpy(expected.data() + offset, data.data(), len);
        break;
      }
      default: {
        auto data = TextLike(rng, len);
        writer.WriteData(offset, data);
        std::memcpy(expected.data() + offset, data.data(), len);
        break;
      }
    }
  }
  writer.Finish();

  test::WriteFile(dir / "expected.raw", expected);
  RunOrFail("qemu-img check -f qcow2 " + Quote(dir / "point.qcow2"));
  RunOrFail("qemu-img compare -f raw -F qcow2 " + Quote(dir / "expected.raw") +
            " " + Quote(dir / "point.qcow2"));
  const std::string info =
      RunOrFail("qemu-img info -f qcow2 " + Quote(dir / "point.qcow2"));
  if (p.overlay) {
    EXPECT_NE(info.find("backing file: base.qcow2"), std::string::npos) << info;
    EXPECT_NE(info.find("backing file format: qcow2"), std::string::npos)
        << info;
  }
  if (p.compress) {
    EXPECT_NE(info.find("compression type: zstd"), std::string::npos) << info;
  }
}

INSTANTIATE_TEST_SUITE_P(AllShapes,
                         PointWriterRandomTest,
                         testing::Values(Params{9, false, false},
                                         Params{12, false, true},
                                         Params{16, false, false},
                                         Params{16, false, true},
                                         Params{16, true, false},
                                         Params{16, true, true},
                                         Params{12, true, true},
                                         Params{21, false, true},
                                         Params{21, true, false}),
                         Name);

TEST(PointWriterTest, AllZeroDataIsNotStored) {
  test::TempDir dir;
  PointWriterOptions options;
  options.virtual_size = 64 << 20;
  PointWriter writer(dir / "zero.qcow2", options);
  std::vector<std::byte> zeros(8 << 20);
  writer.WriteData(0, zeros);
  writer.Finish();
  EXPECT_EQ(writer.stats().data_bytes, 0u);
  EXPECT_EQ(writer.stats().zero_bytes, zeros.size());
  EXPECT_LT(writer.stats().file_bytes, 1u << 20);
  RunOrFail("qemu-img check " + Quote(dir / "zero.qcow2"));
}

TEST(PointWriterTest, RejectsMisuse) {
  test::TempDir dir;
  PointWriterOptions options;
  options.virtual_size = 1 << 20;
  PointWriter writer(dir / "p.qcow2", options);
  std::vector<std::byte> data(65536, std::byte{1});
  try {
    writer.WriteData(512, data);
    FAIL() << "unaligned write accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "writes must cover whole clusters");
  }
  try {
    writer.WriteData(1 << 20, data);
    FAIL() << "write past the end accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "write past the end of the virtual disk");
  }
  writer.WriteData(0, data);
  try {
    writer.WriteData(0, data);
    FAIL() << "second write of a cluster accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "cluster 0 written twice");
  }
  EXPECT_THROW(PointWriter(dir / "p.qcow2", options), Error);  // exists
}

}  // namespace
}  // namespace sendense::qcow2
