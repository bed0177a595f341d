#include "engine/qcow2/image.h"

#include <algorithm>
#include <cstring>

#include "engine/crypto/luks.h"
#include "engine/error.h"
#include "engine/qcow2/compression.h"
#include "engine/qcow2/format.h"

namespace sendense::qcow2 {
namespace {

[[noreturn]] void Corrupt(const std::string& name, const std::string& why) {
  throw Error(ErrorKind::kCorrupt, name + ": invalid QCOW2 image: " + why);
}

}  // namespace

Image::Image(const std::string& real_path,
             size_t l2_cache_bytes,
             const std::string& passphrase)
    : path_(real_path), file_(File::OpenReadOnly(real_path)) {
  file_size_ = file_.Size();
  header_ = ReadHeader(file_, file_size_, path_);
  if (encrypted() && !passphrase.empty()) {
    cipher_ = std::make_unique<crypto::XtsCipher>(crypto::UnlockLuks(
        [&](std::span<std::byte> out, uint64_t at) {
          file_.ReadExact(out, header_.crypto_offset + at);
        },
        header_.crypto_length, passphrase, path_));
  }
  const uint64_t cs = header_.cluster_size();
  cache_.set_capacity(std::max<size_t>(1, l2_cache_bytes / cs));

  std::vector<std::byte> raw(uint64_t{header_.l1_size} * 8);
  file_.ReadExact(raw, header_.l1_table_offset);
  const uint64_t used = DivRoundUp(header_.virtual_size, header_.l2_span());
  l1_.resize(used);
  for (uint64_t i = 0; i < used; ++i) {
    const uint64_t off = LoadBe64(&raw[i * 8]) & kOffsetMask;
    if (off != 0 &&
        (off % cs != 0 || off > file_size_ || cs > file_size_ - off)) {
      Corrupt(path_, "L2 table " + std::to_string(i) +
                         " lies outside the file or is misaligned");
    }
    l1_[i] = off;
  }
}

std::shared_ptr<const Image::L2Table> Image::ReadL2(uint64_t l2_offset) const {
  std::vector<std::byte> raw(header_.cluster_size());
  file_.ReadExact(raw, l2_offset);
  auto table = std::make_shared<L2Table>(header_.l2_entries());
  for (uint64_t i = 0; i < table->size(); ++i) {
    (*table)[i] = LoadBe64(&raw[i * 8]);
  }
  if (std::string why = CheckL2(*table, file_size_); !why.empty()) {
    // A merge into this image (as a backing file) may have grown it since
    // it was opened: check again against its size now.
    const uint64_t now = file_.Size();
    if (now <= file_size_ || !(why = CheckL2(*table, now)).empty()) {
      Corrupt(path_, why);
    }
    file_size_ = now;
  }
  return table;
}

std::string Image::CheckL2(const L2Table& table, uint64_t file_size) const {
  const uint64_t cs = header_.cluster_size();
  const uint32_t csize_shift = 62 - (header_.cluster_bits - 8);
  const uint64_t csize_mask = (uint64_t{1} << (header_.cluster_bits - 8)) - 1;
  const uint64_t coffset_mask = (uint64_t{1} << csize_shift) - 1;
  const uint64_t file_end_sectors =
      DivRoundUp(file_size, kSectorSize) * kSectorSize;
  for (const uint64_t e : table) {
    if (e & kFlagCompressed) {
      const uint64_t off = e & coffset_mask;
      const uint64_t nb = ((e >> csize_shift) & csize_mask) + 1;
      const uint64_t size = nb * kSectorSize - (off % kSectorSize);
      if (off >= file_size || size > file_end_sectors - off) {
        return "compressed cluster past the end of the file";
      }
    } else {
      const uint64_t off = e & kOffsetMask;
      if (off != 0 && (off % cs != 0 || off >= file_size)) {
        return "data cluster at " + std::to_string(off) +
               " lies outside the file or is misaligned";
      }
    }
  }
  return "";
}

std::shared_ptr<const Image::L2Table> Image::LoadL2(uint64_t l1_index) const {
  return cache_.GetOrLoad(l1_index, [&] { return ReadL2(l1_[l1_index]); });
}

ClusterMapping Image::Decode(uint64_t e) const {
  ClusterMapping m;
  if (e & kFlagCompressed) {
    const uint32_t shift = 62 - (header_.cluster_bits - 8);
    const uint64_t nb =
        ((e >> shift) & ((uint64_t{1} << (header_.cluster_bits - 8)) - 1)) + 1;
    m.kind = ClusterMapping::Kind::kCompressed;
    m.host_offset = e & ((uint64_t{1} << shift) - 1);
    m.compressed_size = nb * kSectorSize - (m.host_offset % kSectorSize);
  } else if (header_.version >= 3 && (e & kFlagZero)) {
    m.kind = ClusterMapping::Kind::kZero;
  } else if ((e & kOffsetMask) != 0) {
    m.kind = ClusterMapping::Kind::kData;
    m.host_offset = e & kOffsetMask;
  }
  return m;
}

ClusterMapping Image::Lookup(uint64_t index) const {
  const uint64_t l1_index = index / header_.l2_entries();
  if (l1_index >= l1_.size() || l1_[l1_index] == 0) {
    return {};
  }
  const auto table = LoadL2(l1_index);
  return Decode((*table)[index % header_.l2_entries()]);
}

void Image::LookupRun(uint64_t first, std::span<ClusterMapping> out) const {
  const uint64_t per_table = header_.l2_entries();
  size_t done = 0;
  while (done < out.size()) {
    const uint64_t index = first + done;
    const uint64_t l1_index = index / per_table;
    const size_t n = static_cast<size_t>(
        std::min<uint64_t>(out.size() - done, per_table - index % per_table));
    if (l1_index >= l1_.size() || l1_[l1_index] == 0) {
      std::fill_n(out.begin() + done, n, ClusterMapping{});
    } else {
      const auto table = LoadL2(l1_index);
      for (size_t i = 0; i < n; ++i) {
        out[done + i] = Decode((*table)[(index + i) % per_table]);
      }
    }
    done += n;
  }
}

uint64_t Image::UnmappedSpan(uint64_t offset) const {
  const uint64_t span = header_.l2_span();
  const uint64_t l1_index = offset / span;
  if (l1_index < l1_.size() && l1_[l1_index] != 0) {
    return 0;
  }
  return span - offset % span;
}

void Image::ReadHost(std::span<std::byte> out, uint64_t host) const {
  const size_t n = file_.ReadAt(out, host);
  if (n < out.size()) {
    std::memset(out.data() + n, 0, out.size() - n);
  }
}

void Image::ReadCompressed(const ClusterMapping& m,
                           std::span<std::byte> out) const {
  thread_local std::vector<std::byte> in;
  in.resize(m.compressed_size);
  ReadHost(in, m.host_offset);
  try {
    DecompressCluster(header_.compression_type, in, out);
  } catch (const Error& e) {
    throw Error(ErrorKind::kCorrupt, path_ + ": " + e.what());
  }
}

void Image::Decrypt(std::span<std::byte> sectors, uint64_t host) const {
  if (!encrypted()) {
    return;
  }
  if (!cipher_) {
    throw Error(ErrorKind::kDenied,
                path_ +
                    " is encrypted and no key was given (the "
                    "repository's key file: docs/encryption.md)",
                EACCES);
  }
  cipher_->Decrypt(sectors, host / crypto::kSectorBytes);
}

void Image::Encrypt(std::span<std::byte> sectors, uint64_t host) const {
  if (!encrypted()) {
    return;
  }
  if (!cipher_) {
    throw Error(ErrorKind::kDenied,
                path_ + " is encrypted and no key was given", EACCES);
  }
  cipher_->Encrypt(sectors, host / crypto::kSectorBytes);
}

}  // namespace sendense::qcow2
