#include "engine/browse/mapped_file_reader.h"

#include <algorithm>
#include <cstring>

namespace sendense::browse {

MappedFileReader::MappedFileReader(
    std::vector<std::unique_ptr<PointLease>> leases,
    std::vector<std::shared_ptr<const qcow2::ChainReader>> disks,
    std::vector<guest::FileExtent> map,
    uint64_t size,
    OnDamage on_damage)
    : leases_(std::move(leases)),
      disks_(std::move(disks)),
      map_(std::move(map)),
      size_(size),
      on_damage_(std::move(on_damage)) {}

std::vector<guest::FileExtent>::const_iterator MappedFileReader::From(
    uint64_t offset) const {
  return std::upper_bound(map_.begin(), map_.end(), offset,
                          [](uint64_t at, const guest::FileExtent& e) {
                            return at < e.file_offset + e.length;
                          });
}

size_t MappedFileReader::Read(std::span<std::byte> buf, uint64_t offset) const {
  const uint64_t end =
      offset + std::min<uint64_t>(buf.size(), size_ - std::min(offset, size_));
  uint64_t pos = offset;
  for (auto e = From(offset); pos < end;) {
    std::byte* out = buf.data() + (pos - offset);
    if (e == map_.end() || e->file_offset >= end) {
      std::memset(out, 0, end - pos);  // a hole to the end
      break;
    }
    if (e->file_offset > pos) {
      std::memset(out, 0, e->file_offset - pos);  // a hole before it
      pos = e->file_offset;
      continue;
    }
    const uint64_t n = std::min(end, e->file_offset + e->length) - pos;
    if (e->zeros) {
      std::memset(out, 0, n);
    } else {
      try {
        disks_[e->disk]->Read(std::span(out, n),
                              e->disk_offset + (pos - e->file_offset));
      } catch (const qcow2::DigestMismatch& damage) {
        on_damage_(damage);
        throw;
      }
    }
    pos += n;
    ++e;
  }
  return end - offset;
}

std::optional<uint64_t> MappedFileReader::Seek(uint64_t offset,
                                               bool data) const {
  uint64_t pos = offset;
  for (auto e = From(offset); e != map_.end(); ++e) {
    const bool has_data = !e->zeros && e->file_offset <= pos;
    if (data && !e->zeros) {
      return std::max(e->file_offset, pos);
    }
    if (!data && !has_data) {
      return pos;  // a gap before this piece, or an unwritten one
    }
    pos = e->file_offset + e->length;
  }
  return data ? std::nullopt : std::optional(std::max(pos, offset));
}

}  // namespace sendense::browse
