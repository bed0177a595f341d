// ChainReader against qemu as the reference: chains of 1 to 32 points are
// written by qemu-img and qemu-io (mixed cluster sizes, zero writes,
// discards, compressed clusters, backing files shorter than their overlay)
// and read back byte for byte against `qemu-img convert -O raw`.

#include "engine/qcow2/chain_reader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <sstream>
#include <thread>

#include "tests/support/test_env.h"

namespace sendense::qcow2 {
namespace {

using test::Quote;
using test::RunOrFail;

struct ChainShape {
  int depth;
  bool zstd;
  bool mixed_cluster_sizes;
};

void PrintTo(const ChainShape& s, std::ostream* os) {
  *os << "depth=" << s.depth << " zstd=" << s.zstd
      << " mixed=" << s.mixed_cluster_sizes;
}

// Builds a chain in `dir` with qemu tools; returns the top image's path.
std::string BuildChain(const test::TempDir& dir,
                       const ChainShape& shape,
                       std::mt19937_64& rng) {
  const uint64_t kMiB = 1 << 20;
  test::WriteFile(dir / "random.bin", test::RandomBytes(rng, 4 * kMiB));
  const uint64_t cluster_sizes[] = {512, 4096, 65536, 2 * kMiB};
  std::string previous;
  for (int i = 0; i < shape.depth; ++i) {
    const uint64_t cs =
        shape.mixed_cluster_sizes ? cluster_sizes[rng() % 4] : 65536;
    // Sizes grow along the chain, so lower images are often shorter.
    const uint64_t size =
        20 * kMiB + (i * 3 * kMiB) / shape.depth + 512 * (rng() % 16);
    const std::string name = "p" + std::to_string(i) + ".qcow2";
    std::string create =
        "qemu-img create -q -f qcow2 -o cluster_size=" + std::to_string(cs);
    if (shape.zstd) {
      create += ",compression_type=zstd";
    }
    if (!previous.empty()) {
      create += " -b " + previous + " -F qcow2";
    }
    RunOrFail(create + " " + Quote(dir / name) + " " + std::to_string(size));

    std::ostringstream io;
    io << "qemu-io -f qcow2";
    // qemu only writes compressed clusters to unallocated ones: first op.
    if (rng() % 2 == 0) {
      const uint64_t c_len =
          cs * (1 + rng() % std::max<uint64_t>(1, kMiB / cs));
      const uint64_t c_off = cs * (rng() % ((size - c_len) / cs));
      io << " -c 'write -q -c -P " << (rng() % 255 + 1) << " " << c_off << " "
         << c_len << "'";
    }
    const int ops = 3 + static_cast<int>(rng() % 6);
    for (int op = 0; op < ops; ++op) {
      const uint64_t len = 512 * (1 + rng() % 2048);
      const uint64_t off = 512 * (rng() % ((size - len) / 512));
      switch (rng() % 4) {
        case 0:
          io << " -c 'write -q -P " << (rng() % 255 + 1) << " " << off << " "
             << len << "'";
          break;
        case 1:
          io << " -c 'write -q -s " << (dir / "random.bin") << " " << off << " "
             << std::min<uint64_t>(len, 4 * kMiB) << "'";
          break;
        case 2:
          io << " -c 'write -q -z " << off << " " << len << "'";
          break;
        default:
          io << " -c 'discard -q " << off << " " << len << "'";
          break;
      }
    }
    RunOrFail(io.str() + " " + Quote(dir / name));
    previous = name;
  }
  return dir / previous;
}

std::vector<std::byte> QemuRaw(const test::TempDir& dir,
                               const std::string& top) {
  RunOrFail("qemu-img convert -f qcow2 -O raw " + Quote(top) + " " +
            Quote(dir / "expected.raw"));
  return test::ReadFile(dir / "expected.raw");
}

class ChainReaderQemuTest : public testing::TestWithParam<ChainShape> {};

TEST_P(ChainReaderQemuTest, ReadsLikeQemuImgConvert) {
  const ChainShape shape = GetParam();
  test::TempDir dir;
  std::mt19937_64 rng(shape.depth * 100 + shape.zstd * 10 +
                      shape.mixed_cluster_sizes);
  const std::string top = BuildChain(dir, shape, rng);
  const auto expected = QemuRaw(dir, top);

  auto reader = ChainReader::Open(top);
  ASSERT_EQ(reader->depth(), static_cast<size_t>(shape.depth));
  ASSERT_EQ(reader->size(), expected.size());

  // The chain really holds what the test is about.
  uint64_t compressed = 0, zero = 0;
  for (size_t i = 0; i < reader->depth(); ++i) {
    const Image& layer = reader->layer(i);
    const uint64_t cs = layer.header().cluster_size();
    for (uint64_t c = 0; c * cs < layer.header().virtual_size; ++c) {
      const auto kind = layer.Lookup(c).kind;
      compressed += kind == ClusterMapping::Kind::kCompressed;
      zero += kind == ClusterMapping::Kind::kZero;
    }
  }
  if (shape.depth >= 5) {
    EXPECT_GT(compressed, 0u);
    EXPECT_GT(zero, 0u);
  }

  // Whole disk in one read.
  std::vector<std::byte> all(reader->size());
  reader->Read(all, 0);
  ASSERT_TRUE(all == expected) << "whole-disk read differs from qemu";

  // Random unaligned pieces.
  for (int i = 0; i < 300; ++i) {
    const uint64_t len = 1 + rng() % (300 * 1024);
    const uint64_t off = rng() % (reader->size() - len);
    std::vector<std::byte> piece(len);
    reader->Read(piece, off);
    ASSERT_EQ(0, std::memcmp(piece.data(), expected.data() + off, len))
        << "read at " << off << " length " << len;
  }

  // Extents tile the disk, and everything but data reads as zeros.
  const auto extents = reader->Extents(0, reader->size());
  uint64_t pos = 0;
  for (const Extent& e : extents) {
    ASSERT_EQ(e.offset, pos);
    if (e.kind != ExtentKind::kData) {
      ASSERT_TRUE(std::all_of(expected.begin() + e.offset,
                              expected.begin() + e.offset + e.length,
                              [](std::byte b) { return b == std::byte{0}; }))
          << "non-zero bytes inside a zero/hole extent at " << e.offset;
    }
    pos += e.length;
  }
  EXPECT_EQ(pos, reader->size());
}

INSTANTIATE_TEST_SUITE_P(
    Chains,
    ChainReaderQemuTest,
    testing::Values(ChainShape{1, false, false},
                    ChainShape{1, true, true},
                    ChainShape{2, false, true},
                    ChainShape{5, true, false},
                    ChainShape{8, false, true},
                    ChainShape{32, false, false},
                    ChainShape{32, true, true}),
    [](const testing::TestParamInfo<ChainShape>& param_info) {
      return "depth" + std::to_string(param_info.param.depth) +
             (param_info.param.zstd ? "_zstd" : "_zlib") +
             (param_info.param.mixed_cluster_sizes ? "_mixed" : "_64k");
    });

TEST(ChainReaderTest, ConcurrentReadersSeeTheSameBytes) {
  test::TempDir dir;
  std::mt19937_64 rng(7);
  const std::string top = BuildChain(dir, {12, false, true}, rng);
  const auto expected = QemuRaw(dir, top);
  ChainReader::Options options;
  options.l2_cache_bytes_per_image = 4096;  // constant cache churn
  auto reader = ChainReader::Open(top, options);

  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 local(t);
      for (int i = 0; i < 200; ++i) {
        const uint64_t len = 1 + local() % (256 * 1024);
        const uint64_t off = local() % (reader->size() - len);
        std::vector<std::byte> piece(len);
        reader->Read(piece, off);
        if (std::memcmp(piece.data(), expected.data() + off, len) != 0) {
          ++mismatches;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(ChainReaderTest, ReadsOurOwnWriterOverQemuBase) {
  // A chain mixing both writers: qemu's base, our overlay; read by us.
  test::TempDir dir;
  RunOrFail("qemu-img create -q -f qcow2 " + Quote(dir / "base.qcow2") +
            " 8M && qemu-io -f qcow2 -c 'write -q -P 7 0 8M' " +
            Quote(dir / "base.qcow2"));
  RunOrFail("qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 " +
            Quote(dir / "top.qcow2") +
            " 8M && qemu-io -f qcow2 -c "
            "'write -q -z 1M 1M' -c 'write -q -P 9 3M 64k' " +
            Quote(dir / "top.qcow2"));
  const auto expected = QemuRaw(dir, dir / "top.qcow2");
  auto reader = ChainReader::Open(dir / "top.qcow2");
  std::vector<std::byte> all(reader->size());
  reader->Read(all, 0);
  EXPECT_TRUE(all == expected);
  const auto extents = reader->Extents(0, reader->size());
  ASSERT_EQ(extents.size(), 3u);
  EXPECT_EQ(extents[1].offset, 1u << 20);
  EXPECT_EQ(extents[1].length, 1u << 20);
  EXPECT_EQ(extents[1].kind, ExtentKind::kZero);
}

}  // namespace
}  // namespace sendense::qcow2
