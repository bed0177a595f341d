#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/crypto/xts_cipher.h"
#include "engine/io/file.h"
#include "engine/lru_cache.h"
#include "engine/qcow2/header.h"

namespace sendense::qcow2 {

// Where one guest cluster of one image lives.
struct ClusterMapping {
  enum class Kind { kUnallocated, kZero, kData, kCompressed };
  Kind kind = Kind::kUnallocated;
  uint64_t host_offset = 0;      // kData: cluster start; kCompressed: byte
  uint64_t compressed_size = 0;  // kCompressed: bytes holding the data
};

// One QCOW2 file, opened read-only, with its L1 table in memory and a
// bounded LRU cache of L2 tables. Every L1 and L2 entry is checked against
// the file's size and alignment before use. Thread-safe.
class Image {
 public:
  // Opens the image at `real_path` (canonical). An encrypted (LUKS) image
  // is unlocked with `passphrase` when one is given (Error kDenied for a
  // wrong one, kCorrupt for a damaged LUKS header); without one, its
  // structure reads but Decrypt refuses. Throws Error.
  Image(const std::string& real_path,
        size_t l2_cache_bytes,
        const std::string& passphrase = "");

  bool encrypted() const { return header_.crypt_method != 0; }
  // Decrypts whole sectors read from host offset `host` (sector-aligned),
  // in place: Error kDenied when the image is encrypted and was opened
  // without its key. Nothing to do for a plain image.
  void Decrypt(std::span<std::byte> sectors, uint64_t host) const;
  // The inverse, for a cluster written at `host` (a merge into this image).
  void Encrypt(std::span<std::byte> sectors, uint64_t host) const;

  const Header& header() const { return header_; }
  const std::string& path() const { return path_; }
  uint64_t file_size() const { return file_size_; }
  // Host offsets of the L2 tables (0: none), by L1 index.
  const std::vector<uint64_t>& l2_offsets() const { return l1_; }

  // The mapping of guest cluster `index` (< number of clusters). Throws
  // Error kCorrupt when an L2 table is damaged.
  ClusterMapping Lookup(uint64_t index) const;
  // The mappings of clusters [first, first + out.size()), loading each L2
  // table once (a whole run for one lock, not one per cluster).
  void LookupRun(uint64_t first, std::span<ClusterMapping> out) const;

  // When no L2 table maps guest `offset`, the bytes from `offset` to the
  // end of the span that table would map (all unallocated); otherwise 0.
  uint64_t UnmappedSpan(uint64_t offset) const;

  // Reads `out` from host offset `host`; bytes past the end of the file
  // read as zeros (as in qemu).
  void ReadHost(std::span<std::byte> out, uint64_t host) const;

  // Decompresses the cluster described by `m` into `out` (one cluster).
  void ReadCompressed(const ClusterMapping& m, std::span<std::byte> out) const;

 private:
  using L2Table = std::vector<uint64_t>;
  std::shared_ptr<const L2Table> LoadL2(uint64_t l1_index) const;
  std::shared_ptr<const L2Table> ReadL2(uint64_t l2_offset) const;
  ClusterMapping Decode(uint64_t entry) const;
  // Why `table` is invalid in a file of `file_size` bytes, or "".
  std::string CheckL2(const L2Table& table, uint64_t file_size) const;

  std::string path_;
  File file_;
  // Grows when a merge into this image (as a backing file) appends to it.
  mutable std::atomic<uint64_t> file_size_{0};
  Header header_;
  std::vector<uint64_t> l1_;  // host offsets of L2 tables, 0 if none
  std::unique_ptr<crypto::XtsCipher> cipher_;  // encrypted and unlocked

  mutable LruCache<uint64_t, L2Table> cache_;  // L2 tables by L1 index
};

}  // namespace sendense::qcow2
