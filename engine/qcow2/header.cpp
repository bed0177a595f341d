#include "engine/qcow2/header.h"

#include <algorithm>

#include "engine/error.h"
#include "engine/qcow2/format.h"

namespace sendense::qcow2 {
namespace {

[[noreturn]] void Corrupt(const std::string& name, const std::string& why) {
  throw Error(ErrorKind::kCorrupt, name + ": invalid QCOW2 image: " + why);
}

[[noreturn]] void Unsupported(const std::string& name, const std::string& why) {
  throw Error(ErrorKind::kUnsupported,
              name + ": unsupported QCOW2 image: " + why);
}

std::string Hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

void ParseExtensions(const std::vector<std::byte>& c0,
                     uint64_t start,
                     uint64_t end,
                     Header& h,
                     const std::string& name) {
  uint64_t pos = start;
  while (pos + 8 <= end) {
    const uint32_t type = LoadBe32(&c0[pos]);
    const uint32_t len = LoadBe32(&c0[pos + 4]);
    pos += 8;
    if (type == kExtEnd) {
      return;
    }
    if (len > end - pos) {
      Corrupt(name, "header extension " + Hex(type) + " runs past the header");
    }
    const auto* data = reinterpret_cast<const char*>(&c0[pos]);
    switch (type) {
      case kExtBackingFormat:
        h.backing_format.assign(data, len);
        break;
      case kExtExternalDataFile:
        Unsupported(name, "it uses an external data file");
      case kExtFullDiskEncryption:
        if (len != 16) {
          Corrupt(name, "encryption header pointer of " + std::to_string(len) +
                            " bytes");
        }
        h.crypto_offset = LoadBe64(&c0[pos]);
        h.crypto_length = LoadBe64(&c0[pos + 8]);
        break;
      default:
        break;  // feature names, bitmaps and unknown extensions are ignored
    }
    pos += (uint64_t{len} + 7) & ~uint64_t{7};
  }
}

}  // namespace

// The header's numeric fields that Header keeps (docs/interop/qcow2.txt):
// byte offset, the version that has it, and the member. Reading and
// writing both go through these tables, so an offset is written once.
struct Field32 {
  size_t offset;
  uint32_t since_version;
  uint32_t Header::*member;
};
struct Field64 {
  size_t offset;
  uint32_t since_version;
  uint64_t Header::*member;
};
constexpr Field32 kFields32[] = {
    {20, 2, &Header::cluster_bits},
    {36, 2, &Header::l1_size},
    {56, 2, &Header::refcount_table_clusters},
    {96, 3, &Header::refcount_order},
};
constexpr Field64 kFields64[] = {
    {24, 2, &Header::virtual_size},
    {40, 2, &Header::l1_table_offset},
    {48, 2, &Header::refcount_table_offset},
    {72, 3, &Header::incompatible_features},
    {80, 3, &Header::compatible_features},
    {88, 3, &Header::autoclear_features},
};
// Fields Header does not keep (checked, or derived when writing).
constexpr size_t kMagicAt = 0, kVersionAt = 4, kBackingOffsetAt = 8,
                 kBackingSizeAt = 16, kCryptMethodAt = 32,
                 kHeaderLengthAt = 100, kCompressionTypeAt = 104;

Header ReadHeader(const File& file,
                  uint64_t file_size,
                  const std::string& name) {
  std::vector<std::byte> c0(kV3HeaderLength);
  if (file.ReadAt(c0, 0) < kV2HeaderLength) {
    Corrupt(name, "file too short for a header");
  }
  if (LoadBe32(&c0[kMagicAt]) != kMagic) {
    Corrupt(name, "bad magic (not a QCOW2 file)");
  }
  Header h;
  h.version = LoadBe32(&c0[kVersionAt]);
  if (h.version != 2 && h.version != 3) {
    Unsupported(name, "version " + std::to_string(h.version));
  }
  for (const auto& f : kFields32) {
    if (h.version >= f.since_version) {
      h.*f.member = LoadBe32(&c0[f.offset]);
    }
  }
  for (const auto& f : kFields64) {
    if (h.version >= f.since_version) {
      h.*f.member = LoadBe64(&c0[f.offset]);
    }
  }
  const uint64_t backing_offset = LoadBe64(&c0[kBackingOffsetAt]);
  const uint32_t backing_size = LoadBe32(&c0[kBackingSizeAt]);
  const uint32_t crypt_method = LoadBe32(&c0[kCryptMethodAt]);

  if (h.cluster_bits < kMinClusterBits || h.cluster_bits > kMaxClusterBits) {
    Corrupt(name, "cluster size 2^" + std::to_string(h.cluster_bits) +
                      " outside 512 B..2 MiB");
  }
  const uint64_t cs = h.cluster_size();
  if (crypt_method == kCryptAes) {
    Unsupported(name,
                "it is encrypted with qemu's legacy AES-CBC (insecure, and "
                "qemu no longer writes it); convert it to LUKS with qemu-img");
  }
  if (crypt_method != 0 && crypt_method != kCryptLuks) {
    Unsupported(name, "encryption method " + std::to_string(crypt_method));
  }
  h.crypt_method = crypt_method;

  if (h.version == 3) {
    h.header_length = LoadBe32(&c0[kHeaderLengthAt]);
    if (h.header_length < kV3MinHeaderLength || h.header_length > cs) {
      Corrupt(name, "header length " + std::to_string(h.header_length));
    }
    if (h.header_length > kV3MinHeaderLength) {
      h.compression_type = static_cast<uint8_t>(c0[kCompressionTypeAt]);
    }
    if (h.refcount_order > 6) {
      Corrupt(name, "refcount order " + std::to_string(h.refcount_order));
    }
  } else {
    h.header_length = kV2HeaderLength;
  }

  if (h.incompatible_features & kIncompatCorrupt) {
    Unsupported(name, "it is marked corrupt");
  }
  if (h.incompatible_features & kIncompatExternalData) {
    Unsupported(name, "it uses an external data file");
  }
  if (h.incompatible_features & kIncompatExtendedL2) {
    Unsupported(name, "it uses extended L2 entries (subclusters)");
  }
  const uint64_t known = kIncompatDirty | kIncompatCompressionType;
  if (h.incompatible_features &
      ~(known | kIncompatCorrupt | kIncompatExternalData |
        kIncompatExtendedL2)) {
    Unsupported(name, "unknown incompatible features " +
                          Hex(h.incompatible_features & ~known));
  }
  const bool has_type = h.incompatible_features & kIncompatCompressionType;
  if (has_type && h.compression_type != kCompressionZstd &&
      h.compression_type != kCompressionZlib) {
    Unsupported(name, "compression type " + std::to_string(h.compression_type));
  }
  if (!has_type && h.compression_type != kCompressionZlib) {
    Corrupt(name, "compression type set without its feature bit");
  }

  if (h.virtual_size > kMaxVirtualSize) {
    Corrupt(name, "virtual size " + std::to_string(h.virtual_size) +
                      " exceeds 1 PiB");
  }
  const uint64_t l1_needed = DivRoundUp(h.virtual_size, h.l2_span());
  if (uint64_t{h.l1_size} < l1_needed) {
    Corrupt(name, "L1 table too small for the virtual size");
  }
  if (uint64_t{h.l1_size} * 8 > kMaxL1Bytes) {
    Corrupt(name, "L1 table of " + std::to_string(h.l1_size) +
                      " entries is too large");
  }
  if (h.l1_size > 0 &&
      (h.l1_table_offset % cs != 0 || h.l1_table_offset > file_size ||
       uint64_t{h.l1_size} * 8 > file_size - h.l1_table_offset)) {
    Corrupt(name, "L1 table at " + Hex(h.l1_table_offset) +
                      " lies outside the file or is misaligned");
  }
  if (h.refcount_table_offset % cs != 0 ||
      uint64_t{h.refcount_table_clusters} * cs > kMaxRefcountTableBytes) {
    Corrupt(name, "refcount table misaligned or too large");
  }

  // The whole first cluster holds extensions and the backing file name.
  const uint64_t head = std::min(cs, file_size);
  c0.resize(head);
  file.ReadExact(c0, 0);

  if (h.header_length > head) {
    Corrupt(name, "header longer than the file");
  }
  ParseExtensions(c0, h.header_length, head, h, name);
  if (h.crypt_method == kCryptLuks) {
    if (h.crypto_length == 0) {
      Corrupt(name, "LUKS encryption without its header pointer");
    }
    if (h.crypto_offset % cs != 0 || h.crypto_offset == 0 ||
        h.crypto_length > kMaxCryptoHeaderBytes ||
        h.crypto_offset > file_size ||
        h.crypto_length > file_size - h.crypto_offset) {
      Corrupt(name, "LUKS header at " + Hex(h.crypto_offset) + " (" +
                        std::to_string(h.crypto_length) +
                        " bytes) lies outside the file or is misaligned");
    }
  } else if (h.crypto_length != 0) {
    Corrupt(name, "an encryption header pointer, but no encryption");
  }

  if (backing_offset != 0) {
    if (backing_size == 0 || backing_size > kMaxBackingNameLength) {
      Corrupt(name, "backing file name of " + std::to_string(backing_size) +
                        " bytes");
    }
    if (backing_offset >= head || backing_size > head - backing_offset) {
      Corrupt(name, "backing file name outside the first cluster");
    }
    h.backing_name.assign(reinterpret_cast<const char*>(&c0[backing_offset]),
                          backing_size);
  }
  return h;
}

std::vector<std::byte> SerializeHeader(const Header& h) {
  std::vector<std::byte> c0(h.cluster_size());
  std::byte* p = c0.data();
  StoreBe32(p + kMagicAt, kMagic);
  StoreBe32(p + kVersionAt, 3);  // always written as version 3
  for (const auto& f : kFields32) {
    StoreBe32(p + f.offset, h.*f.member);
  }
  for (const auto& f : kFields64) {
    StoreBe64(p + f.offset, h.*f.member);
  }
  StoreBe32(p + kHeaderLengthAt, kV3HeaderLength);
  StoreBe32(p + kCryptMethodAt, h.crypt_method);
  p[kCompressionTypeAt] = std::byte{h.compression_type};

  uint64_t pos = kV3HeaderLength;
  if (!h.backing_format.empty()) {
    StoreBe32(p + pos, kExtBackingFormat);
    StoreBe32(p + pos + 4, static_cast<uint32_t>(h.backing_format.size()));
    std::memcpy(p + pos + 8, h.backing_format.data(), h.backing_format.size());
    pos += 8 + ((h.backing_format.size() + 7) & ~size_t{7});
  }
  if (h.crypt_method != 0) {
    StoreBe32(p + pos, kExtFullDiskEncryption);
    StoreBe32(p + pos + 4, 16);
    StoreBe64(p + pos + 8, h.crypto_offset);
    StoreBe64(p + pos + 16, h.crypto_length);
    pos += 24;
  }
  pos += 8;  // end-of-extensions marker: type 0, length 0
  if (!h.backing_name.empty()) {
    StoreBe64(p + kBackingOffsetAt, pos);
    StoreBe32(p + kBackingSizeAt, static_cast<uint32_t>(h.backing_name.size()));
    std::memcpy(p + pos, h.backing_name.data(), h.backing_name.size());
  }
  return c0;
}

}  // namespace sendense::qcow2
