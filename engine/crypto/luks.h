#pragma once

// LUKS1 headers as qemu reads and writes them inside a QCOW2 file (QCOW2's
// encrypt.format=luks, the "full disk encryption header" extension; LUKS
// on-disk format 1.2.1): aes xts-plain64 with a 512-bit master key, sha256
// for PBKDF2 and the anti-forensic splitter, 4000 stripes, eight key slots
// whose key material starts at 4 KiB and every 252 KiB after. The
// passphrase of a slot is what qemu's `--object secret,file=F` reads from
// F, byte for byte.
//
// Everything read here is untrusted: sizes and offsets are checked before
// they are used, and a wrong passphrase or a damaged header is one
// sentence (never a key that decrypts to garbage: the master key is
// checked against its digest).

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/crypto/xts_cipher.h"

namespace sendense::crypto {

// Bytes of the header region of a new LUKS volume: the header, then the
// eight slots' key material (qemu's payload offset).
uint64_t LuksRegionBytes();

struct NewLuks {
  std::vector<std::byte> region;  // LuksRegionBytes() bytes
  XtsKey master_key;              // random
};

// A new LUKS header with a random master key, slot 0 unlocked by
// `passphrase` with `iterations` of PBKDF2 (at least 1000, as qemu asks).
NewLuks CreateLuks(std::string_view passphrase, uint32_t iterations = 1000);

// Reads `length` bytes at `offset` of the region (Error when it cannot).
using RegionReader =
    std::function<void(std::span<std::byte> out, uint64_t offset)>;

// The master key of the LUKS header in a region of `region_bytes`,
// unlocked by `passphrase` in any active slot. `name` names the file in
// the sentences: Error kCorrupt for a damaged or impossible header,
// kUnsupported for a cipher other than aes-xts-plain64 / sha256, kDenied
// when no slot takes the passphrase.
XtsKey UnlockLuks(const RegionReader& read,
                  uint64_t region_bytes,
                  std::string_view passphrase,
                  const std::string& name);

// The key slots in use (a bit per slot) and the one `passphrase` opens
// (-1: none). UnlockLuks's errors for a damaged header.
struct LuksSlots {
  uint8_t active = 0;
  int opened = -1;
};
LuksSlots InspectLuks(const RegionReader& read,
                      uint64_t region_bytes,
                      std::string_view passphrase,
                      const std::string& name);

// Writes `data` at `offset` of the region (Error when it cannot).
using RegionWriter =
    std::function<void(std::span<const std::byte> data, uint64_t offset)>;

// Adds `new_passphrase` in a free key slot (the same PBKDF2 iterations as
// the slot `passphrase` unlocks): the key material is written before the
// slot is turned on. False when `new_passphrase` opens it already. Error
// kDenied for a wrong `passphrase`, kNoSpace when all eight slots are in
// use; UnlockLuks's errors for a damaged header.
bool AddLuksKey(const RegionReader& read,
                const RegionWriter& write,
                uint64_t region_bytes,
                std::string_view passphrase,
                std::string_view new_passphrase,
                const std::string& name);

// Turns off the slot `passphrase` unlocks, then overwrites its key
// material with random bytes. False when no slot takes it. Error
// kInvalidArgument when it is the only slot in use.
bool RemoveLuksKey(const RegionReader& read,
                   const RegionWriter& write,
                   uint64_t region_bytes,
                   std::string_view passphrase,
                   const std::string& name);

}  // namespace sendense::crypto
