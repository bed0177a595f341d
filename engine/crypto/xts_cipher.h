#pragma once

// AES-256-XTS with plain64 IVs in 512-byte sectors: LUKS's payload cipher
// as qemu writes it in a QCOW2 file (the IV of a sector is its number, its
// host offset / 512, little-endian), through OpenSSL's EVP (AES-NI where
// the CPU has it).

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace sendense::crypto {

inline constexpr size_t kSectorBytes = 512;
inline constexpr size_t kXtsKeyBytes = 64;  // two AES-256 keys
using XtsKey = std::array<uint8_t, kXtsKeyBytes>;

class XtsCipher {
 public:
  explicit XtsCipher(const XtsKey& key) : key_(key) {}
  ~XtsCipher();
  XtsCipher(const XtsCipher&) = delete;
  XtsCipher& operator=(const XtsCipher&) = delete;

  // `data` (whole sectors) in place; its first sector is `first_sector`.
  // Thread-safe.
  void Encrypt(std::span<std::byte> data, uint64_t first_sector) const;
  void Decrypt(std::span<std::byte> data, uint64_t first_sector) const;

 private:
  void Run(std::span<std::byte> data, uint64_t first_sector, bool enc) const;
  XtsKey key_;
};

}  // namespace sendense::crypto
