#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/catalog/guest_index.h"
#include "engine/guest/appliance.h"
#include "engine/guest/extent_map.h"

namespace sendense::guest {

// Filesystems whose file data the kernel can place for us: FIEMAP (ext2/3/4,
// XFS) or FIBMAP (VFAT, NTFS through ntfs-3g). Others (btrfs: its
// addresses are not device offsets) are read through the appliance.
bool Mappable(const std::string& fstype);

// Where our in-appliance helper is: $SENDENSE_EXTENTS_HELPER, else
// `sendense-extents` beside the running binary or in ../lib/sendense.
// "" when there is none.
std::string ExtentHelperPath();

// The helper's answer to one request, parsed (numbers not yet checked).
struct HelperAnswer {
  std::string error;  // "" when it could tell
  // D: the device as segments of whole disks ("sdb" becomes drive 1).
  std::vector<DeviceSegment> segments;
  // F: the file's size and extents; block_map: FIBMAP's runs (no flags;
  // a file without any block of its own has no map of its data).
  uint64_t size = 0;
  bool block_map = false;
  std::vector<RawExtent> extents;
};
// Parses the helper's output for requests of `kinds` ('D' or 'F' each, in
// order). Anything malformed, and a missing answer, is an error answer.
std::vector<HelperAnswer> ParseHelperOutput(const std::string& text,
                                            const std::string& kinds);

// Maps the data of every regular file of the `filesystems` mounted in
// `app` at "/<name>" onto the backup's disks (`disk_sizes` in drive
// order), running the helper inside the appliance, and stores each map in
// its entry (GuestEntry::extents, mapped). A file that cannot be mapped
// keeps none and is read through the appliance; so does everything when
// the helper is missing or fails (logged).
void MapFiles(Appliance& app,
              const std::vector<uint64_t>& disk_sizes,
              std::vector<IndexedFilesystem>& filesystems);

}  // namespace sendense::guest
