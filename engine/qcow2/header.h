#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/io/file.h"

namespace sendense::qcow2 {

// The fields of a QCOW2 header that this project uses, after validation.
struct Header {
  uint32_t version = 3;
  uint32_t cluster_bits = 16;
  uint64_t virtual_size = 0;
  uint64_t l1_table_offset = 0;
  uint32_t l1_size = 0;
  uint64_t refcount_table_offset = 0;
  uint32_t refcount_table_clusters = 0;
  uint64_t incompatible_features = 0;
  uint64_t compatible_features = 0;
  uint64_t autoclear_features = 0;
  uint32_t refcount_order = 4;
  uint32_t header_length = 0;
  uint8_t compression_type = 0;
  // Encryption: 0 none, kCryptLuks with its LUKS header at crypto_offset
  // (cluster-aligned), crypto_length bytes (the FDE header extension).
  uint32_t crypt_method = 0;
  uint64_t crypto_offset = 0;
  uint64_t crypto_length = 0;
  std::string backing_name;    // empty when the image has no backing file
  std::string backing_format;  // the backing format extension, if present

  uint64_t cluster_size() const { return uint64_t{1} << cluster_bits; }
  uint64_t l2_entries() const { return cluster_size() / 8; }
  // Bytes of virtual disk that one L2 table maps.
  uint64_t l2_span() const { return l2_entries() << cluster_bits; }
};

// Reads and validates the header of `file` (whose size is `file_size`).
// Throws Error kCorrupt for a malformed header, kUnsupported for valid
// features this reader refuses (legacy AES encryption, external data
// files, extended L2 entries, unknown incompatible features). LUKS
// encryption is read: its header's place is checked here, its content by
// crypto::UnlockLuks. `name` is used in messages.
Header ReadHeader(const File& file,
                  uint64_t file_size,
                  const std::string& name);

// The first cluster of a new image holding `h` (version 3, its backing name
// and backing format extension, and the FDE extension when encrypted).
// `h.header_length` is ignored.
std::vector<std::byte> SerializeHeader(const Header& h);

}  // namespace sendense::qcow2
