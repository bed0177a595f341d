#pragma once

// On-disk constants of QCOW2 (qemu docs/interop/qcow2.txt). Every multi-byte
// field is big-endian.

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace sendense::qcow2 {

inline constexpr uint32_t kMagic = 0x514649fb;   // "QFI\xfb"
inline constexpr uint32_t kMinClusterBits = 9;   // 512 B
inline constexpr uint32_t kMaxClusterBits = 21;  // 2 MiB
inline constexpr uint32_t kV2HeaderLength = 72;
inline constexpr uint32_t kV3MinHeaderLength = 104;
inline constexpr uint32_t kV3HeaderLength = 112;  // with compression_type
inline constexpr uint32_t kMaxBackingNameLength = 1023;
// Upper bounds that reject absurd images before any allocation.
inline constexpr uint64_t kMaxVirtualSize = uint64_t{1} << 50;  // 1 PiB
inline constexpr uint64_t kMaxL1Bytes = uint64_t{32} << 20;     // as qemu
inline constexpr uint64_t kMaxRefcountTableBytes = uint64_t{8} << 20;

// Incompatible feature bits.
inline constexpr uint64_t kIncompatDirty = 1u << 0;
inline constexpr uint64_t kIncompatCorrupt = 1u << 1;
inline constexpr uint64_t kIncompatExternalData = 1u << 2;
inline constexpr uint64_t kIncompatCompressionType = 1u << 3;
inline constexpr uint64_t kIncompatExtendedL2 = 1u << 4;

// Header extension types.
inline constexpr uint32_t kExtEnd = 0;
inline constexpr uint32_t kExtBackingFormat = 0xe2792aca;
inline constexpr uint32_t kExtFeatureNames = 0x6803f857;
inline constexpr uint32_t kExtExternalDataFile = 0x44415441;
inline constexpr uint32_t kExtFullDiskEncryption = 0x0537be77;

// Encryption methods (header bytes 32-35).
inline constexpr uint32_t kCryptAes = 1;  // legacy, refused
inline constexpr uint32_t kCryptLuks = 2;
// The most a LUKS header region may take (qemu's is about 2 MiB).
inline constexpr uint64_t kMaxCryptoHeaderBytes = uint64_t{16} << 20;

// Compression types (header byte 104).
inline constexpr uint8_t kCompressionZlib = 0;
inline constexpr uint8_t kCompressionZstd = 1;

// L1 and L2 entries.
inline constexpr uint64_t kOffsetMask = 0x00fffffffffffe00ULL;  // bits 9-55
inline constexpr uint64_t kFlagCopied = 1ULL << 63;
inline constexpr uint64_t kFlagCompressed = 1ULL << 62;
inline constexpr uint64_t kFlagZero = 1ULL << 0;
inline constexpr uint64_t kL1ReservedMask = 0x7f000000000001ffULL;
inline constexpr uint64_t kSectorSize = 512;

inline uint16_t LoadBe16(const std::byte* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_bswap16(v);
}
inline uint32_t LoadBe32(const std::byte* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_bswap32(v);
}
inline uint64_t LoadBe64(const std::byte* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_bswap64(v);
}
inline void StoreBe16(std::byte* p, uint16_t v) {
  v = __builtin_bswap16(v);
  std::memcpy(p, &v, sizeof v);
}
inline void StoreBe32(std::byte* p, uint32_t v) {
  v = __builtin_bswap32(v);
  std::memcpy(p, &v, sizeof v);
}
inline void StoreBe64(std::byte* p, uint64_t v) {
  v = __builtin_bswap64(v);
  std::memcpy(p, &v, sizeof v);
}

inline uint64_t DivRoundUp(uint64_t a, uint64_t b) {
  return (a + b - 1) / b;
}

}  // namespace sendense::qcow2
