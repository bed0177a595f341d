#include "engine/qcow2/cluster_sums.h"

#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <vector>

#include "engine/error.h"
#include "engine/qcow2/format.h"

namespace sendense::qcow2 {
namespace {

constexpr uint64_t kRecord = 16;

void Store(std::byte* p, const Digest& d) {
  StoreBe64(p, d.high);
  StoreBe64(p + 8, d.low);
}

Digest Load(const std::byte* p) {
  return {LoadBe64(p), LoadBe64(p + 8)};
}

}  // namespace

#ifdef SENDENSE_XXH3_AVX2
namespace avx2 {
XXH128_hash_t Xxh3With128Bits(const void* data, size_t size);
}
#endif

Digest HashCluster(std::span<const std::byte> cluster) {
#ifdef SENDENSE_XXH3_AVX2
  static const bool kAvx2 = __builtin_cpu_supports("avx2");
  const XXH128_hash_t h =
      kAvx2 ? avx2::Xxh3With128Bits(cluster.data(), cluster.size())
            : XXH3_128bits(cluster.data(), cluster.size());
#else
  const XXH128_hash_t h = XXH3_128bits(cluster.data(), cluster.size());
#endif
  return {h.high64, h.low64};
}

Digest ZeroClusterDigest(uint64_t cluster_size) {
  static thread_local uint64_t cached_size = 0;
  static thread_local Digest cached;
  if (cached_size != cluster_size) {
    const std::vector<std::byte> zeros(cluster_size);
    cached = HashCluster(zeros);
    cached_size = cluster_size;
  }
  return cached;
}

std::string SumsPath(const std::string& point_path) {
  return point_path + ".sums";
}

SumsFile SumsFile::Create(const std::string& path) {
  return SumsFile(File::CreateExclusive(path));
}

SumsFile SumsFile::OpenReadOnly(const std::string& path) {
  return SumsFile(File::OpenReadOnly(path));
}

SumsFile SumsFile::OpenReadWrite(const std::string& path) {
  return SumsFile(File::OpenReadWrite(path));
}

void SumsFile::Put(uint64_t cluster, const Digest& d) const {
  std::byte raw[kRecord];
  Store(raw, d);
  file_.WriteAll(raw, cluster * kRecord);
}

void SumsFile::PutRun(uint64_t first_cluster,
                      std::span<const Digest> digests) const {
  std::vector<std::byte> raw(digests.size() * kRecord);
  for (size_t i = 0; i < digests.size(); ++i) {
    Store(&raw[i * kRecord], digests[i]);
  }
  file_.WriteAll(raw, first_cluster * kRecord);
}

Digest SumsFile::Get(uint64_t cluster) const {
  std::byte raw[kRecord];
  if (file_.ReadAt(raw, cluster * kRecord) != kRecord) {
    return {};
  }
  return Load(raw);
}

void SumsFile::GetRun(uint64_t first, std::span<Digest> out) const {
  std::vector<std::byte> raw(out.size() * kRecord);
  const size_t got = file_.ReadAt(raw, first * kRecord) / kRecord;
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = i < got ? Load(&raw[i * kRecord]) : Digest{};
  }
}

void SumsFile::Clear(uint64_t cluster) const {
  Put(cluster, Digest{});
}

void SumsFile::ForEach(
    const std::function<void(uint64_t, const Digest&)>& f) const {
  const uint64_t size = file_.Size();
  std::vector<std::byte> buf(1 << 20);
  uint64_t pos = 0;
  while (pos < size) {
    // Holes (clusters the point does not hold) are skipped unread.
    const off_t data = ::lseek(file_.fd(), static_cast<off_t>(pos), SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) {
        return;
      }
      ThrowSystemError("cannot read the cluster digests");
    }
    pos = static_cast<uint64_t>(data) / kRecord * kRecord;
    const off_t hole = ::lseek(file_.fd(), data, SEEK_HOLE);
    const uint64_t end =
        hole < 0 ? size : std::min<uint64_t>(size, static_cast<uint64_t>(hole));
    while (pos < end) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(
          buf.size(), (end - pos + kRecord - 1) / kRecord * kRecord));
      const size_t got = file_.ReadAt(std::span(buf).first(n), pos);
      for (size_t i = 0; i + kRecord <= got; i += kRecord) {
        const Digest d = Load(&buf[i]);
        if (!d.empty()) {
          f((pos + i) / kRecord, d);
        }
      }
      if (got < kRecord) {
        return;
      }
      pos += got / kRecord * kRecord;
    }
  }
}

}  // namespace sendense::qcow2
