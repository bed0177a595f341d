#include "engine/guest/extent_map.h"

#include <linux/fiemap.h>

#include <algorithm>
#include <cstring>

namespace sendense::guest {
namespace {

// a + b, or nullopt when it does not fit.
std::optional<uint64_t> Add(uint64_t a, uint64_t b) {
  uint64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) {
    return std::nullopt;
  }
  return sum;
}

// Why data with these FIEMAP flags cannot be read in place; "" if it can.
std::string Unplain(uint32_t flags) {
  if ((flags & FIEMAP_EXTENT_DATA_INLINE) != 0 ||
      (flags & FIEMAP_EXTENT_DATA_TAIL) != 0) {
    return "data stored inline";
  }
  if ((flags & FIEMAP_EXTENT_ENCODED) != 0) {
    return "compressed or encoded data";
  }
  if ((flags & FIEMAP_EXTENT_DATA_ENCRYPTED) != 0) {
    return "encrypted data";
  }
  if ((flags & (FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_UNKNOWN)) != 0) {
    return "data without a known place";
  }
  if ((flags & FIEMAP_EXTENT_NOT_ALIGNED) != 0) {
    return "data not aligned to blocks";
  }
  return "";
}

constexpr size_t kPieceBytes = 32;
constexpr uint32_t kZerosFlag = 1;

void Put(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) {
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
}

uint64_t Get(const std::string& in, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) {
    v |= uint64_t{static_cast<unsigned char>(in[at + static_cast<size_t>(i)])}
         << (8 * i);
  }
  return v;
}

}  // namespace

std::string CheckDevice(const std::vector<DeviceSegment>& segments,
                        const std::vector<uint64_t>& disk_sizes) {
  if (segments.empty()) {
    return "the device has no segments";
  }
  uint64_t next = 0;
  for (const auto& s : segments) {
    const auto end = Add(s.offset, s.length);
    const auto disk_end = Add(s.disk_offset, s.length);
    if (s.length == 0 || s.offset != next || !end || !disk_end) {
      return "the device's segments are not in order";
    }
    if (s.disk >= disk_sizes.size() || *disk_end > disk_sizes[s.disk]) {
      return "a segment of the device is outside the backup's disks";
    }
    next = *end;
  }
  return "";
}

std::optional<std::vector<FileExtent>> MapFile(
    const std::vector<RawExtent>& raw,
    uint64_t size,
    const std::vector<DeviceSegment>& device,
    std::string* why) {
  const auto refuse = [why](std::string reason) {
    *why = std::move(reason);
    return std::nullopt;
  };
  if (raw.size() > kMaxFileExtents) {
    return refuse("too many extents");
  }
  if (device.empty()) {
    return refuse("the device has no segments");
  }
  const uint64_t device_end = device.back().offset + device.back().length;
  std::vector<FileExtent> out;
  uint64_t next = 0;
  for (const auto& r : raw) {
    if (std::string u = Unplain(r.flags); !u.empty()) {
      return refuse(u);
    }
    const auto logical_end = Add(r.logical, r.length);
    const auto physical_end = Add(r.physical, r.length);
    if (r.length == 0 || !logical_end || !physical_end) {
      return refuse("an extent of no or impossible length");
    }
    if (r.logical < next) {
      return refuse("overlapping extents");
    }
    if (*physical_end > device_end) {
      return refuse("an extent outside its filesystem");
    }
    next = *logical_end;
    if (r.logical >= size) {
      continue;  // preallocated past the end: never read
    }
    const bool zeros = (r.flags & FIEMAP_EXTENT_UNWRITTEN) != 0;
    uint64_t remaining = std::min(r.length, size - r.logical);
    uint64_t pos = r.physical, file_offset = r.logical;
    while (remaining > 0) {
      const auto seg = std::find_if(device.begin(), device.end(), [&](auto& s) {
        return pos >= s.offset && pos - s.offset < s.length;
      });
      if (seg == device.end()) {
        return refuse("an extent outside its filesystem");
      }
      const uint64_t piece =
          std::min(remaining, seg->offset + seg->length - pos);
      const uint64_t disk_offset = seg->disk_offset + (pos - seg->offset);
      FileExtent* last = out.empty() ? nullptr : &out.back();
      if (last != nullptr && last->disk == seg->disk && last->zeros == zeros &&
          last->file_offset + last->length == file_offset &&
          last->disk_offset + last->length == disk_offset) {
        last->length += piece;
      } else {
        out.push_back({file_offset, piece, disk_offset, seg->disk, zeros});
      }
      pos += piece;
      file_offset += piece;
      remaining -= piece;
    }
  }
  if (out.size() > kMaxFileExtents) {
    return refuse("too many extents");
  }
  return out;
}

bool TouchesRewritten(const std::vector<FileExtent>& map,
                      const std::vector<std::vector<DiskRange>>& rewritten) {
  for (const auto& piece : map) {
    if (piece.disk >= rewritten.size()) {
      continue;
    }
    const auto& ranges = rewritten[piece.disk];
    // The first range ending after the piece starts.
    const auto it =
        std::upper_bound(ranges.begin(), ranges.end(), piece.disk_offset,
                         [](uint64_t at, const DiskRange& r) {
                           return at < r.offset + r.length;
                         });
    if (it != ranges.end() && it->offset < piece.disk_offset + piece.length) {
      return true;
    }
  }
  return false;
}

std::string CheckMap(const std::vector<FileExtent>& map,
                     uint64_t file_size,
                     const std::vector<uint64_t>& disk_sizes) {
  if (map.size() > kMaxFileExtents) {
    return "too many pieces";
  }
  uint64_t next = 0;
  for (const auto& e : map) {
    const auto end = Add(e.file_offset, e.length);
    const auto disk_end = Add(e.disk_offset, e.length);
    if (e.length == 0 || !end || !disk_end) {
      return "a piece of no or impossible length";
    }
    if (e.file_offset < next) {
      return "pieces overlap or are out of order";
    }
    if (*end > file_size) {
      return "a piece beyond the end of the file";
    }
    if (e.disk >= disk_sizes.size() || *disk_end > disk_sizes[e.disk]) {
      return "a piece outside the backup's disks";
    }
    next = *end;
  }
  return "";
}

std::string EncodeMap(const std::vector<FileExtent>& map) {
  std::string out;
  out.reserve(map.size() * kPieceBytes);
  for (const auto& e : map) {
    Put(out, e.file_offset, 8);
    Put(out, e.length, 8);
    Put(out, e.disk_offset, 8);
    Put(out, e.disk, 4);
    Put(out, e.zeros ? kZerosFlag : 0, 4);
  }
  return out;
}

std::optional<std::vector<FileExtent>> DecodeMap(const std::string& bytes) {
  if (bytes.size() % kPieceBytes != 0 ||
      bytes.size() / kPieceBytes > kMaxFileExtents) {
    return std::nullopt;
  }
  std::vector<FileExtent> out(bytes.size() / kPieceBytes);
  for (size_t i = 0; i < out.size(); ++i) {
    const size_t at = i * kPieceBytes;
    const uint64_t flags = Get(bytes, at + 28, 4);
    if ((flags & ~uint64_t{kZerosFlag}) != 0) {
      return std::nullopt;
    }
    out[i] = {Get(bytes, at, 8), Get(bytes, at + 8, 8), Get(bytes, at + 16, 8),
              static_cast<uint32_t>(Get(bytes, at + 24, 4)), flags != 0};
  }
  return out;
}

}  // namespace sendense::guest
