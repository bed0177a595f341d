// QCOW2 benchmark, side by side with qemu-img on the same data in one run.
//
//   write: a raw disk (half random data, half zeros) becomes a QCOW2 image,
//          through PointWriter vs `qemu-img convert -O qcow2`;
//   read:  a 30-point chain (our writer's full + 29 overlays) becomes a raw
//          file, through ChainReader vs `qemu-img convert -O raw`.
// Both sides fsync their output. Each measurement is the best of 3 runs.
//
// Usage: qcow2_bench [WORKDIR] [SIZE_GIB]   (defaults: /var/tmp, 4)

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/io/file.h"
#include "engine/qcow2/chain_reader.h"
#include "engine/qcow2/point_writer.h"

namespace {

using sendense::File;
using namespace sendense::qcow2;
constexpr uint64_t kMiB = 1 << 20;

double BestOf3(const std::function<void()>& run) {
  double best = 1e30;
  for (int i = 0; i < 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    run();
    const std::chrono::duration<double> d =
        std::chrono::steady_clock::now() - start;
    best = std::min(best, d.count());
  }
  return best;
}

void Shell(const std::string& cmd) {
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "failed: %s\n", cmd.c_str());
    std::exit(1);
  }
}

struct Chunk {
  uint64_t offset, length;
};

// Runs fn(chunk, buffer) over all chunks on `workers` threads, as the
// backup engine and exports do.
void ForEachChunk(
    const std::vector<Chunk>& chunks,
    const std::function<void(const Chunk&, std::span<std::byte>)>& fn,
    int workers = 2) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < workers; ++t) {
    threads.emplace_back([&] {
      std::vector<std::byte> buf(4 * kMiB);
      for (size_t i; (i = next++) < chunks.size();) {
        fn(chunks[i], std::span(buf).first(chunks[i].length));
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
}

void AddChunks(std::vector<Chunk>& chunks, uint64_t offset, uint64_t length) {
  for (uint64_t o = offset; o < offset + length; o += 4 * kMiB) {
    chunks.push_back({o, std::min<uint64_t>(4 * kMiB, offset + length - o)});
  }
}

// Alternating 64 MiB stripes of random data and holes.
void MakeSource(const std::string& path, uint64_t size) {
  std::filesystem::remove(path);
  File f = File::CreateExclusive(path);
  std::mt19937_64 rng(1);
  std::vector<std::byte> buf(4 * kMiB);
  for (uint64_t off = 0; off < size; off += 4 * kMiB) {
    if ((off / (64 * kMiB)) % 2 == 0) {
      for (size_t i = 0; i < buf.size(); i += 8) {
        const uint64_t v = rng();
        std::memcpy(&buf[i], &v, 8);
      }
      f.WriteAll(buf, off);
    }
  }
  if (ftruncate(f.fd(), static_cast<off_t>(size)) != 0) {
    std::exit(1);
  }
}

// Our side of the write benchmark: walk the source's data with SEEK_DATA
// (as the backup engine walks NBD extents) and feed PointWriter from two
// threads.
void WriteOurs(const std::string& src, const std::string& dst, uint64_t size) {
  std::filesystem::remove(dst);
  File in = File::OpenReadOnly(src);
  PointWriterOptions o;
  o.virtual_size = size;
  PointWriter w(dst, o);
  std::vector<Chunk> chunks;
  off_t pos = 0;
  while (static_cast<uint64_t>(pos) < size) {
    const off_t data = lseek(in.fd(), pos, SEEK_DATA);
    if (data < 0) {
      break;
    }
    const off_t hole = lseek(in.fd(), data, SEEK_HOLE);
    AddChunks(chunks, data, hole - data);
    pos = hole;
  }
  ForEachChunk(chunks, [&](const Chunk& c, std::span<std::byte> buf) {
    in.ReadExact(buf, c.offset);
    w.WriteData(c.offset, buf);
  });
  w.Finish();
}

// Our side of the read benchmark: the chain's extents, data copied out,
// holes left sparse.
void ReadOurs(const std::string& top, const std::string& dst) {
  std::filesystem::remove(dst);
  auto chain = ChainReader::Open(top);
  File out = File::CreateExclusive(dst);
  std::vector<Chunk> chunks;
  for (const Extent& e : chain->Extents(0, chain->size())) {
    if (e.kind == ExtentKind::kData) {
      AddChunks(chunks, e.offset, e.length);
    }
  }
  ForEachChunk(chunks, [&](const Chunk& c, std::span<std::byte> buf) {
    chain->Read(buf, c.offset);
    out.WriteAll(buf, c.offset);
    out.StartWriteback(c.offset, c.length);
  });
  if (ftruncate(out.fd(), static_cast<off_t>(chain->size())) != 0) {
    std::exit(1);
  }
  out.Sync();
}

// Point i of the chain: 1% of the disk's clusters rewritten at random.
void MakeOverlay(const std::string& dir, int i, uint64_t size) {
  PointWriterOptions o;
  o.virtual_size = size;
  o.backing_name = "p" + std::to_string(i - 1) + ".qcow2";
  const std::string path = dir + "/p" + std::to_string(i) + ".qcow2";
  std::filesystem::remove(path);
  PointWriter w(path, o);
  std::mt19937_64 rng(i);
  std::vector<std::byte> cluster(65536);
  const uint64_t clusters = size / 65536;
  std::vector<bool> used(clusters);
  for (uint64_t k = 0; k < clusters / 100; ++k) {
    const uint64_t c = rng() % clusters;
    if (used[c]) {
      continue;
    }
    used[c] = true;
    for (size_t j = 0; j < cluster.size(); j += 8) {
      const uint64_t v = rng();
      std::memcpy(&cluster[j], &v, 8);
    }
    w.WriteData(c * 65536, cluster);
  }
  w.Finish();
}

void Report(const char* what,
            uint64_t bytes,
            double ours,
            double peer,
            const char* peer_name) {
  std::printf(
      "%-34s sendense %6.2f s (%6.0f MB/s)   %s %6.2f s (%6.0f MB/s)   "
      "ratio %.2fx\n",
      what, ours, bytes / ours / 1e6, peer_name, peer, bytes / peer / 1e6,
      peer / ours);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string base = argc > 1 ? argv[1] : "/var/tmp";
  const uint64_t size = (argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 4)
                        << 30;
  const std::string dir = base + "/sendense-qcow2-bench";
  std::filesystem::create_directories(dir);
  const std::string src = dir + "/source.raw";
  std::printf("disk %llu GiB (half random data, half holes) in %s\n",
              static_cast<unsigned long long>(size >> 30), dir.c_str());
  MakeSource(src, size);

  const double w_ours =
      BestOf3([&] { WriteOurs(src, dir + "/ours.qcow2", size); });
  const double w_qemu = BestOf3([&] {
    Shell("rm -f " + dir +
          "/qemu.qcow2 && qemu-img convert -t writeback -f raw "
          "-O qcow2 " +
          src + " " + dir + "/qemu.qcow2");
  });
  Shell("qemu-img compare -q -f qcow2 -F qcow2 " + dir + "/ours.qcow2 " + dir +
        "/qemu.qcow2");
  Report("write 4 GiB image", size / 2, w_ours, w_qemu, "qemu-img");

  std::filesystem::rename(dir + "/ours.qcow2", dir + "/p0.qcow2");
  for (int i = 1; i < 30; ++i) {
    MakeOverlay(dir, i, size);
  }
  for (const auto& [label, top] :
       {std::pair{"read chain depth 1 to raw", "p0.qcow2"},
        std::pair{"read chain depth 30 to raw", "p29.qcow2"}}) {
    const std::string t = dir + "/" + top;
    const double r_ours = BestOf3([&] { ReadOurs(t, dir + "/ours.raw"); });
    const double r_qemu = BestOf3([&] {
      Shell("rm -f " + dir +
            "/qemu.raw && qemu-img convert -t writeback -f "
            "qcow2 -O raw " +
            t + " " + dir + "/qemu.raw");
    });
    Shell("cmp " + dir + "/ours.raw " + dir + "/qemu.raw");
    Report(label, size / 2, r_ours, r_qemu, "qemu-img");
  }
  std::filesystem::remove_all(dir);
  return 0;
}
