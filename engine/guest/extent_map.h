#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sendense::guest {

// Where a stretch of a guest file's data lives on the backup's disks.
struct FileExtent {
  uint64_t file_offset = 0;
  uint64_t length = 0;
  uint64_t disk_offset = 0;
  uint32_t disk = 0;   // index into the backup's drives (DrivesOf order)
  bool zeros = false;  // allocated but unwritten: reads as zeros
  bool operator==(const FileExtent&) const = default;
};

// A file whose data is in more pieces than this is read through the
// appliance (the map would cost more than it saves).
constexpr size_t kMaxFileExtents = 65536;

// A stretch of a filesystem's block device on one whole disk (partition
// starts and LVM linear segments applied).
struct DeviceSegment {
  uint64_t offset = 0;  // in the filesystem's device
  uint64_t length = 0;
  uint32_t disk = 0;
  uint64_t disk_offset = 0;
};

// One extent as the kernel reported it (FIEMAP; FIBMAP runs have no flags),
// physical offsets in the filesystem's device.
struct RawExtent {
  uint64_t logical = 0, physical = 0, length = 0;
  uint32_t flags = 0;  // FIEMAP_EXTENT_*
};

// Checks a device's segments against the disks' sizes: in order from 0,
// no gaps, each inside its disk. "" or what is wrong.
std::string CheckDevice(const std::vector<DeviceSegment>& segments,
                        const std::vector<uint64_t>& disk_sizes);

// The map of a file of `size` bytes from what the kernel reported, through
// the device's (checked) segments. nullopt with `*why` when the data is not
// plain extents (inline, compressed, encrypted, delayed) or the report is
// odd (overlaps, outside the device, overflows, too many pieces).
std::optional<std::vector<FileExtent>> MapFile(
    const std::vector<RawExtent>& raw,
    uint64_t size,
    const std::vector<DeviceSegment>& device,
    std::string* why);

// A range of a disk, in bytes.
struct DiskRange {
  uint64_t offset = 0;
  uint64_t length = 0;
};

// Whether a piece of `map` lies where the appliance wrote (`rewritten`:
// per disk, ranges in order), as a replayed journal does: there the
// backup holds other bytes than the appliance showed.
bool TouchesRewritten(const std::vector<FileExtent>& map,
                      const std::vector<std::vector<DiskRange>>& rewritten);

// Checks a stored map before any byte is read through it: pieces in order,
// not overlapping, inside the file and inside their disk, at most
// kMaxFileExtents. "" or what is wrong.
std::string CheckMap(const std::vector<FileExtent>& map,
                     uint64_t file_size,
                     const std::vector<uint64_t>& disk_sizes);

// The catalog's form of a map (32 bytes a piece, little-endian), and back
// (nullopt when the bytes are not a whole number of pieces).
std::string EncodeMap(const std::vector<FileExtent>& map);
std::optional<std::vector<FileExtent>> DecodeMap(const std::string& bytes);

}  // namespace sendense::guest
