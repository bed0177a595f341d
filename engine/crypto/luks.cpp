#include "engine/crypto/luks.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>

#include "engine/error.h"

namespace sendense::crypto {
namespace {

constexpr uint8_t kMagic[6] = {'L', 'U', 'K', 'S', 0xBA, 0xBE};
constexpr size_t kHeaderBytes = 592;
constexpr size_t kDigestBytes = 20;
constexpr size_t kSaltBytes = 32;
constexpr size_t kSlots = 8;
constexpr uint32_t kStripes = 4000;
constexpr uint32_t kSlotEnabled = 0x00AC71F3;
constexpr uint32_t kSlotDisabled = 0x0000DEAD;
constexpr uint64_t kFirstSlotAt = 4096;
constexpr size_t kSplitBytes = kXtsKeyBytes * kStripes;  // 256000
// Sectors between two slots' key material: the split key rounded up to
// 4 KiB (qemu's and cryptsetup's layout).
constexpr uint64_t kSlotSectors =
    (kSplitBytes + kFirstSlotAt - 1) / kFirstSlotAt * (kFirstSlotAt / 512);

// Field offsets of the header (all big-endian).
constexpr size_t kVersionAt = 6, kCipherNameAt = 8, kCipherModeAt = 40,
                 kHashSpecAt = 72, kPayloadAt = 104, kKeyBytesAt = 108,
                 kDigestAt = 112, kDigestSaltAt = 132, kDigestItersAt = 164,
                 kUuidAt = 168, kSlotsAt = 208, kSlotBytes = 48;

uint32_t Be32(const std::byte* p) {
  return (uint32_t{std::to_integer<uint8_t>(p[0])} << 24) |
         (uint32_t{std::to_integer<uint8_t>(p[1])} << 16) |
         (uint32_t{std::to_integer<uint8_t>(p[2])} << 8) |
         uint32_t{std::to_integer<uint8_t>(p[3])};
}

void PutBe32(std::byte* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    p[i] = std::byte(v >> (24 - 8 * i));
  }
}

std::string Field(const std::byte* p, size_t n) {
  const char* c = reinterpret_cast<const char*>(p);
  return std::string(c, strnlen(c, n));
}

void Random(void* out, size_t n) {
  if (RAND_bytes(static_cast<unsigned char*>(out), static_cast<int>(n)) != 1) {
    throw Error(ErrorKind::kIo, "OpenSSL has no random bytes");
  }
}

void Pbkdf2(const void* pass,
            size_t pass_len,
            const std::byte* salt,
            uint32_t iterations,
            uint8_t* out,
            size_t out_len) {
  if (PKCS5_PBKDF2_HMAC(static_cast<const char*>(pass),
                        static_cast<int>(pass_len),
                        reinterpret_cast<const unsigned char*>(salt),
                        kSaltBytes, static_cast<int>(iterations), EVP_sha256(),
                        static_cast<int>(out_len), out) != 1) {
    throw Error(ErrorKind::kIo, "OpenSSL's PBKDF2 failed");
  }
}

// LUKS's diffusion of one stripe: each 32-byte piece replaced by the
// SHA-256 of its index (big-endian) and itself.
void Diffuse(std::span<uint8_t> block) {
  constexpr size_t kHash = 32;
  for (size_t i = 0; i * kHash < block.size(); ++i) {
    const size_t n = std::min(kHash, block.size() - i * kHash);
    uint8_t index[4] = {static_cast<uint8_t>(i >> 24),
                        static_cast<uint8_t>(i >> 16),
                        static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
    uint8_t digest[kHash];
    unsigned len = 0;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    const bool ok = ctx != nullptr &&
                    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
                    EVP_DigestUpdate(ctx, index, sizeof index) == 1 &&
                    EVP_DigestUpdate(ctx, block.data() + i * kHash, n) == 1 &&
                    EVP_DigestFinal_ex(ctx, digest, &len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
      throw Error(ErrorKind::kIo, "OpenSSL's SHA-256 failed");
    }
    std::memcpy(block.data() + i * kHash, digest, n);
  }
}

// The anti-forensic split of `key` into kStripes stripes, and its merge.
std::vector<std::byte> AfSplit(const XtsKey& key) {
  std::vector<std::byte> out(kSplitBytes);
  Random(out.data(), kXtsKeyBytes * (kStripes - 1));
  XtsKey block{};
  for (uint32_t s = 0; s + 1 < kStripes; ++s) {
    for (size_t i = 0; i < kXtsKeyBytes; ++i) {
      block[i] ^= std::to_integer<uint8_t>(out[s * kXtsKeyBytes + i]);
    }
    Diffuse(block);
  }
  for (size_t i = 0; i < kXtsKeyBytes; ++i) {
    out[(kStripes - 1) * kXtsKeyBytes + i] = std::byte(block[i] ^ key[i]);
  }
  OPENSSL_cleanse(block.data(), block.size());
  return out;
}

XtsKey AfMerge(std::span<const std::byte> split) {
  XtsKey block{};
  for (uint32_t s = 0; s + 1 < kStripes; ++s) {
    for (size_t i = 0; i < kXtsKeyBytes; ++i) {
      block[i] ^= std::to_integer<uint8_t>(split[s * kXtsKeyBytes + i]);
    }
    Diffuse(block);
  }
  for (size_t i = 0; i < kXtsKeyBytes; ++i) {
    block[i] ^=
        std::to_integer<uint8_t>(split[(kStripes - 1) * kXtsKeyBytes + i]);
  }
  return block;
}

XtsKey SlotKey(std::string_view passphrase,
               const std::byte* salt,
               uint32_t iterations) {
  XtsKey k;
  Pbkdf2(passphrase.data(), passphrase.size(), salt, iterations, k.data(),
         k.size());
  return k;
}

}  // namespace

uint64_t LuksRegionBytes() {
  return kFirstSlotAt + kSlots * kSlotSectors * kSectorBytes;
}

NewLuks CreateLuks(std::string_view passphrase, uint32_t iterations) {
  iterations = std::max<uint32_t>(iterations, 1000);
  NewLuks out;
  out.region.assign(LuksRegionBytes(), std::byte{0});
  std::byte* h = out.region.data();
  std::memcpy(h, kMagic, sizeof kMagic);
  h[kVersionAt + 1] = std::byte{1};
  std::memcpy(h + kCipherNameAt, "aes", 3);
  std::memcpy(h + kCipherModeAt, "xts-plain64", 11);
  std::memcpy(h + kHashSpecAt, "sha256", 6);
  PutBe32(h + kPayloadAt, static_cast<uint32_t>(LuksRegionBytes() / 512));
  PutBe32(h + kKeyBytesAt, kXtsKeyBytes);
  Random(out.master_key.data(), out.master_key.size());
  Random(h + kDigestSaltAt, kSaltBytes);
  PutBe32(h + kDigestItersAt, 1000);
  Pbkdf2(out.master_key.data(), out.master_key.size(), h + kDigestSaltAt, 1000,
         reinterpret_cast<uint8_t*>(h + kDigestAt), kDigestBytes);
  uint8_t uuid[16];
  Random(uuid, sizeof uuid);
  uuid[6] = (uuid[6] & 0x0f) | 0x40;  // version 4
  uuid[8] = (uuid[8] & 0x3f) | 0x80;
  char text[37];
  std::snprintf(text, sizeof text,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                "%02x%02x%02x%02x%02x%02x",
                uuid[0], uuid[1], uuid[2], uuid[3], uuid[4], uuid[5], uuid[6],
                uuid[7], uuid[8], uuid[9], uuid[10], uuid[11], uuid[12],
                uuid[13], uuid[14], uuid[15]);
  std::memcpy(h + kUuidAt, text, 36);
  for (size_t s = 0; s < kSlots; ++s) {
    std::byte* slot = h + kSlotsAt + s * kSlotBytes;
    PutBe32(slot, s == 0 ? kSlotEnabled : kSlotDisabled);
    PutBe32(slot + 40,
            static_cast<uint32_t>(kFirstSlotAt / 512 + s * kSlotSectors));
    PutBe32(slot + 44, kStripes);
  }
  std::byte* slot0 = h + kSlotsAt;
  PutBe32(slot0 + 4, iterations);
  Random(slot0 + 8, kSaltBytes);
  const XtsKey slot_key = SlotKey(passphrase, slot0 + 8, iterations);
  auto split = AfSplit(out.master_key);
  XtsCipher(slot_key).Encrypt(split, 0);
  std::memcpy(h + kFirstSlotAt, split.data(), split.size());
  return out;
}

namespace {

// A header read and checked, and the slot a passphrase unlocked.
struct Unlocked {
  std::vector<std::byte> header;
  XtsKey master{};
  int slot = -1;  // -1: no slot takes the passphrase
  int active = 0;
  uint8_t active_slots = 0;  // a bit per slot in use
};

Unlocked Unlock(const RegionReader& read,
                uint64_t region_bytes,
                std::string_view passphrase,
                const std::string& name) {
  const auto corrupt = [&](const std::string& why) {
    return Error(ErrorKind::kCorrupt,
                 name + ": damaged LUKS encryption header: " + why);
  };
  if (region_bytes < kHeaderBytes) {
    throw corrupt("it is " + std::to_string(region_bytes) + " bytes long");
  }
  Unlocked out;
  out.header.resize(kHeaderBytes);
  read(out.header, 0);
  const std::byte* h = out.header.data();
  if (std::memcmp(h, kMagic, sizeof kMagic) != 0) {
    throw corrupt("no LUKS magic");
  }
  if (std::to_integer<uint8_t>(h[kVersionAt]) != 0 ||
      std::to_integer<uint8_t>(h[kVersionAt + 1]) != 1) {
    throw Error(ErrorKind::kUnsupported,
                name + ": only LUKS version 1 is read here");
  }
  const std::string cipher = Field(h + kCipherNameAt, 32);
  const std::string mode = Field(h + kCipherModeAt, 32);
  const std::string hash = Field(h + kHashSpecAt, 32);
  if (cipher != "aes" || mode != "xts-plain64" || hash != "sha256" ||
      Be32(h + kKeyBytesAt) != kXtsKeyBytes) {
    throw Error(ErrorKind::kUnsupported,
                name + ": encrypted with " + cipher + " " + mode + " " + hash +
                    " (" + std::to_string(Be32(h + kKeyBytesAt)) +
                    "-byte key); Sendense reads aes xts-plain64 sha256 with "
                    "a 64-byte key, qemu's default");
  }
  const uint32_t digest_iters = Be32(h + kDigestItersAt);
  if (digest_iters == 0 || digest_iters > 100'000'000) {
    throw corrupt("master key digest iterations " +
                  std::to_string(digest_iters));
  }
  std::vector<std::byte> split(kSplitBytes);
  for (size_t s = 0; s < kSlots; ++s) {
    const std::byte* slot = h + kSlotsAt + s * kSlotBytes;
    const uint32_t active = Be32(slot);
    const uint32_t iterations = Be32(slot + 4);
    const uint64_t at = uint64_t{Be32(slot + 40)} * 512;
    if (Be32(slot + 44) != kStripes || at < kHeaderBytes || at > region_bytes ||
        kSplitBytes > region_bytes - at) {
      throw corrupt("key slot " + std::to_string(s) +
                    " lies outside the header or is not one qemu makes");
    }
    if (active == kSlotDisabled) {
      continue;
    }
    if (active != kSlotEnabled) {
      throw corrupt("key slot " + std::to_string(s) + " is neither on nor off");
    }
    if (iterations == 0 || iterations > 100'000'000) {
      throw corrupt("key slot " + std::to_string(s) + " has " +
                    std::to_string(iterations) + " iterations");
    }
    ++out.active;
    out.active_slots |= static_cast<uint8_t>(1u << s);
    if (out.slot >= 0) {
      continue;  // counting the others
    }
    read(split, at);
    XtsKey key = SlotKey(passphrase, slot + 8, iterations);
    XtsCipher(key).Decrypt(split, 0);
    OPENSSL_cleanse(key.data(), key.size());
    XtsKey master = AfMerge(split);
    uint8_t digest[kDigestBytes];
    Pbkdf2(master.data(), master.size(), h + kDigestSaltAt, digest_iters,
           digest, sizeof digest);
    if (CRYPTO_memcmp(digest, h + kDigestAt, kDigestBytes) == 0) {
      out.master = master;
      out.slot = static_cast<int>(s);
    }
    OPENSSL_cleanse(master.data(), master.size());
  }
  OPENSSL_cleanse(split.data(), split.size());
  if (out.active == 0) {
    throw corrupt("no key slot is in use");
  }
  return out;
}

Error WrongKey(const std::string& name) {
  return Error(ErrorKind::kDenied,
               name +
                   " is encrypted with another key: no key slot of its "
                   "LUKS header takes the one given");
}

}  // namespace

LuksSlots InspectLuks(const RegionReader& read,
                      uint64_t region_bytes,
                      std::string_view passphrase,
                      const std::string& name) {
  Unlocked u = Unlock(read, region_bytes, passphrase, name);
  OPENSSL_cleanse(u.master.data(), u.master.size());
  return {u.active_slots, u.slot};
}

XtsKey UnlockLuks(const RegionReader& read,
                  uint64_t region_bytes,
                  std::string_view passphrase,
                  const std::string& name) {
  Unlocked u = Unlock(read, region_bytes, passphrase, name);
  if (u.slot < 0) {
    throw WrongKey(name);
  }
  return u.master;
}

bool AddLuksKey(const RegionReader& read,
                const RegionWriter& write,
                uint64_t region_bytes,
                std::string_view passphrase,
                std::string_view new_passphrase,
                const std::string& name) {
  if (Unlock(read, region_bytes, new_passphrase, name).slot >= 0) {
    return false;  // it opens this file already
  }
  Unlocked u = Unlock(read, region_bytes, passphrase, name);
  if (u.slot < 0) {
    throw WrongKey(name);
  }
  std::byte* h = u.header.data();
  int free_slot = -1;
  for (size_t s = 0; s < kSlots && free_slot < 0; ++s) {
    if (Be32(h + kSlotsAt + s * kSlotBytes) == kSlotDisabled) {
      free_slot = static_cast<int>(s);
    }
  }
  if (free_slot < 0) {
    OPENSSL_cleanse(u.master.data(), u.master.size());
    throw Error(ErrorKind::kNoSpace,
                name + ": all eight key slots of its LUKS header are in use");
  }
  std::byte* slot = h + kSlotsAt + free_slot * kSlotBytes;
  const uint32_t iterations = Be32(h + kSlotsAt + u.slot * kSlotBytes + 4);
  Random(slot + 8, kSaltBytes);
  PutBe32(slot + 4, iterations);
  XtsKey slot_key = SlotKey(new_passphrase, slot + 8, iterations);
  auto split = AfSplit(u.master);
  OPENSSL_cleanse(u.master.data(), u.master.size());
  XtsCipher(slot_key).Encrypt(split, 0);
  OPENSSL_cleanse(slot_key.data(), slot_key.size());
  // The key material first, then the slot that points at it: a crash in
  // between leaves the slot off.
  write(split, uint64_t{Be32(slot + 40)} * 512);
  PutBe32(slot, kSlotEnabled);
  write(u.header, 0);
  return true;
}

bool RemoveLuksKey(const RegionReader& read,
                   const RegionWriter& write,
                   uint64_t region_bytes,
                   std::string_view passphrase,
                   const std::string& name) {
  Unlocked u = Unlock(read, region_bytes, passphrase, name);
  OPENSSL_cleanse(u.master.data(), u.master.size());
  if (u.slot < 0) {
    return false;  // not a key of this file
  }
  if (u.active == 1) {
    throw Error(ErrorKind::kInvalidArgument,
                name +
                    ": that is the only key of its LUKS header: add another "
                    "first (key add), or nothing could read it");
  }
  std::byte* slot = u.header.data() + kSlotsAt + u.slot * kSlotBytes;
  // The slot off first, then its key material overwritten.
  PutBe32(slot, kSlotDisabled);
  write(u.header, 0);
  std::vector<std::byte> noise(kSplitBytes);
  Random(noise.data(), noise.size());
  write(noise, uint64_t{Be32(slot + 40)} * 512);
  return true;
}

}  // namespace sendense::crypto
