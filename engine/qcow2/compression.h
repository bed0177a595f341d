#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

struct ZSTD_CCtx_s;
struct ZSTD_DCtx_s;

namespace sendense::qcow2 {

// Inflates one compressed cluster of `type` (kCompressionZlib: raw deflate;
// kCompressionZstd: zstd frames) into exactly out.size() bytes. `in` may
// hold trailing padding. Throws Error kCorrupt when the data does not
// decompress to a whole cluster.
void DecompressCluster(uint8_t type,
                       std::span<const std::byte> in,
                       std::span<std::byte> out);

// A zstd compressor for one thread at a time.
class ZstdCompressor {
 public:
  explicit ZstdCompressor(int level = 3);
  ~ZstdCompressor();
  ZstdCompressor(const ZstdCompressor&) = delete;
  ZstdCompressor& operator=(const ZstdCompressor&) = delete;

  // Compresses `in` into `out`; returns the compressed size, or 0 when the
  // result would not fit in `out` (the caller then stores it uncompressed).
  size_t Compress(std::span<const std::byte> in, std::span<std::byte> out);

 private:
  ZSTD_CCtx_s* ctx_;
  int level_;
};

}  // namespace sendense::qcow2
