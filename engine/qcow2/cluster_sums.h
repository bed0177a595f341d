#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "engine/io/file.h"

namespace sendense::qcow2 {

// A cluster's digest: XXH3-128 of its bytes (a short last cluster padded
// with zeros, as the image stores it). XXH3 runs at memory speed, so
// backups keep their pace; it detects bit rot and misplaced data, not
// tampering (see docs/architecture.md, "Verify").
struct Digest {
  uint64_t high = 0, low = 0;
  bool empty() const { return high == 0 && low == 0; }
  bool operator==(const Digest&) const = default;
};

Digest HashCluster(std::span<const std::byte> cluster);
// The digest of a cluster of zeros of `cluster_size` bytes.
Digest ZeroClusterDigest(uint64_t cluster_size);

// A point's cluster digests: the file "<point>.sums" beside the point,
// 16 bytes per guest cluster at cluster * 16 (big-endian high, low): the
// digest of every cluster the point holds as the source gave it (data, and
// in an overlay also the zero clusters that hide older data), and 16 zero
// bytes (a hole) where it holds nothing. Written while the backup copies,
// from the bytes read from the source before they reach the image.
std::string SumsPath(const std::string& point_path);

class SumsFile {
 public:
  // Creates `path` (which must not exist) for writing.
  static SumsFile Create(const std::string& path);
  static SumsFile OpenReadOnly(const std::string& path);
  static SumsFile OpenReadWrite(const std::string& path);

  // Thread-safe: positional writes.
  void Put(uint64_t cluster, const Digest& d) const;
  void PutRun(uint64_t first_cluster, std::span<const Digest> digests) const;
  // Empty when the file holds nothing for `cluster`.
  Digest Get(uint64_t cluster) const;
  // Fills `out` with the digests of the clusters from `first` on (empty
  // where the file holds none).
  void GetRun(uint64_t first, std::span<Digest> out) const;
  // Calls `f` for every cluster with a digest, in order (holes skipped).
  void ForEach(const std::function<void(uint64_t, const Digest&)>& f) const;
  // Clears `cluster` (a hole again).
  void Clear(uint64_t cluster) const;
  void Sync() const { file_.Sync(); }

 private:
  explicit SumsFile(File file) : file_(std::move(file)) {}
  File file_;
};

}  // namespace sendense::qcow2
