#include "engine/qcow2/compression.h"

#include <zlib.h>
#include <zstd.h>

#include <string>

#include "engine/error.h"
#include "engine/qcow2/format.h"

namespace sendense::qcow2 {
namespace {

[[noreturn]] void Bad(const std::string& why) {
  throw Error(ErrorKind::kCorrupt,
              "compressed cluster does not decompress: " + why);
}

void InflateZlib(std::span<const std::byte> in, std::span<std::byte> out) {
  z_stream z{};
  if (inflateInit2(&z, -15) != Z_OK) {
    throw Error(ErrorKind::kIo, "zlib inflateInit2 failed");
  }
  z.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&z, Z_FINISH);
  const bool full = z.avail_out == 0;
  inflateEnd(&z);
  // Z_BUF_ERROR with a full output means the stream is longer than a
  // cluster; qemu accepts that as long as the cluster is complete.
  if (!full || (rc != Z_STREAM_END && rc != Z_BUF_ERROR && rc != Z_OK)) {
    Bad("zlib stream ended early or is damaged");
  }
}

void InflateZstd(std::span<const std::byte> in, std::span<std::byte> out) {
  thread_local ZSTD_DCtx* dctx = ZSTD_createDCtx();
  ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  ZSTD_outBuffer output{out.data(), out.size(), 0};
  while (output.pos < output.size) {
    const size_t rc = ZSTD_decompressStream(dctx, &output, &input);
    if (ZSTD_isError(rc)) {
      Bad(std::string("zstd: ") + ZSTD_getErrorName(rc));
    }
    if (rc == 0 && input.pos == input.size && output.pos < output.size) {
      Bad("zstd frame shorter than a cluster");
    }
    if (input.pos == input.size && output.pos < output.size && rc != 0) {
      Bad("zstd data truncated");
    }
  }
}

}  // namespace

void DecompressCluster(uint8_t type,
                       std::span<const std::byte> in,
                       std::span<std::byte> out) {
  if (type == kCompressionZstd) {
    InflateZstd(in, out);
  } else {
    InflateZlib(in, out);
  }
}

ZstdCompressor::ZstdCompressor(int level)
    : ctx_(ZSTD_createCCtx()), level_(level) {}

ZstdCompressor::~ZstdCompressor() {
  ZSTD_freeCCtx(ctx_);
}

size_t ZstdCompressor::Compress(std::span<const std::byte> in,
                                std::span<std::byte> out) {
  const size_t rc = ZSTD_compressCCtx(ctx_, out.data(), out.size(), in.data(),
                                      in.size(), level_);
  return ZSTD_isError(rc) ? 0 : rc;
}

}  // namespace sendense::qcow2
