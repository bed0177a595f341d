#pragma once

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/qcow2/chain_map.h"
#include "engine/qcow2/cluster_sums.h"
#include "engine/qcow2/image.h"

namespace sendense::qcow2 {

// A read found stored data that does not match its digest (EIO): which
// layer's file, and the guest offset and length of the cluster.
class DigestMismatch : public Error {
 public:
  DigestMismatch(std::string path, uint64_t offset, uint64_t length)
      : Error(ErrorKind::kCorrupt,
              path + ": the cluster at guest offset " + std::to_string(offset) +
                  " does not match its digest",
              EIO),
        path_(std::move(path)),
        offset_(offset),
        length_(length) {}
  const std::string& path() const { return path_; }
  uint64_t offset() const { return offset_; }
  uint64_t length() const { return length_; }

 private:
  std::string path_;
  uint64_t offset_, length_;
};

// What a range of the virtual disk holds.
enum class ExtentKind {
  kData,  // stored data (may still happen to be zeros)
  kZero,  // reads as zeros: a zero cluster, or past a shorter backing file
  kHole,  // allocated nowhere in the chain: reads as zeros
};

struct Extent {
  uint64_t offset = 0;
  uint64_t length = 0;
  ExtentKind kind = ExtentKind::kHole;
};

// A whole QCOW2 backing chain opened read-only: the top image and every
// backing file below it, each checked (see ResolveBackingPath, ReadHeader)
// before anything of it is read. The backing format must be recorded in
// the image and be qcow2; nothing is probed. Backing files may be shorter
// than their overlay (the rest reads as zeros) and use other cluster sizes.
// Reads and extent queries are thread-safe.
class ChainReader {
 public:
  struct Options {
    size_t l2_cache_bytes_per_image = size_t{1} << 20;
    // The resolved map of the chain (16 bytes per granule): 8 MiB covers
    // 32 GiB of disk at 64 KiB clusters.
    size_t map_cache_bytes = size_t{8} << 20;
    size_t max_depth = 1024;
    // Check every stored cluster a read returns against its digest (the
    // layer's SumsPath file, where it has one) the first time it is read:
    // a mismatch fails the read (Error kCorrupt, EIO), never wrong bytes.
    bool check_digests = false;
    // The passphrase of encrypted (LUKS) layers; "" opens them locked:
    // extents and structure read, their data does not (Error kDenied).
    std::string luks_passphrase;
  };

  // Opens the chain whose top image is `path`. Throws Error (kNotFound,
  // kCorrupt, kUnsupported) naming the offending file.
  static std::unique_ptr<ChainReader> Open(const std::string& path,
                                           const Options& options);
  static std::unique_ptr<ChainReader> Open(const std::string& path) {
    return Open(path, Options{});
  }

  uint64_t size() const { return layers_.front()->header().virtual_size; }
  size_t depth() const { return layers_.size(); }
  const Image& layer(size_t i) const { return *layers_[i]; }

  // Fills `out` with the virtual disk's bytes at `offset`. The range must
  // lie within size() (Error kInvalidArgument otherwise).
  void Read(std::span<std::byte> out, uint64_t offset) const;

  // The extents covering [offset, offset + length), merged, in order.
  std::vector<Extent> Extents(uint64_t offset, uint64_t length) const;

 private:
  // One contiguous run of the virtual disk served by one layer.
  struct Segment {
    uint64_t length = 0;
    ExtentKind kind = ExtentKind::kHole;
    const Image* image = nullptr;  // kData only
    size_t layer = 0;              // kData only: index of `image`
    ClusterMapping mapping;        // kData only
    uint64_t offset_in_cluster = 0;
  };
  ChainReader(std::vector<std::unique_ptr<Image>> layers, size_t map_bytes)
      : layers_(std::move(layers)), map_(layers_, map_bytes) {}
  // Digests of one layer and which of its clusters passed already.
  struct LayerDigests {
    SumsFile sums;
    std::unique_ptr<std::atomic<uint64_t>[]> checked;  // a bit per cluster
    uint64_t clusters = 0;
  };
  // A cluster a read touched, to check once the read is done.
  struct Touched {
    size_t layer;
    uint64_t cluster;
    uint64_t host;      // the cluster's start in the layer's file
    int64_t out_start;  // where the cluster's first byte is in `out`
  };
  // Whether `t` passed its check already.
  bool Checked(const Touched& t) const;
  // Checks each cluster of `batch` against its layer's digest, from `out`
  // where the read holds it whole, else reading it whole; marks the ones
  // that pass. Throws DigestMismatch. Thread-safe.
  void CheckClusters(std::span<const std::byte> out,
                     std::span<const Touched> batch) const;
  // Reads the data segment `seg` of an encrypted layer into `dst` (guest
  // `offset`): whole sectors read, checked as stored, then decrypted.
  void ReadEncrypted(const Segment& seg,
                     std::span<std::byte> dst,
                     uint64_t offset) const;
  // The run at `offset` served by one place, at most `max_length` long.
  Segment Resolve(uint64_t offset, uint64_t max_length) const;
  // The same, walking the layers cluster by cluster (the map's fallback).
  Segment ResolveByLayers(uint64_t offset, uint64_t max_length) const;
  void CheckRange(uint64_t offset, uint64_t length) const;

  std::vector<std::unique_ptr<Image>> layers_;  // [0] is the top
  ChainMap map_;
  std::vector<std::unique_ptr<LayerDigests>> digests_;  // per layer, or null
};

}  // namespace sendense::qcow2
