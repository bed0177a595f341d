#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/backup/ranges.h"

namespace sendense {

// Changes tracked outside the NBD source (vSphere's QueryChangedDiskAreas,
// a storage array's snapshot difference): per disk, the byte ranges
// written since the previous point. A backup given them is incremental
// from them, as from a dirty bitmap.
struct ChangedRanges {
  std::string origin;  // where they came from (a file name), for reasons
  std::map<std::string, RangeList> disks;  // sorted, merged
};

// Parses `json`: an array of {"offset" (or vSphere's "start"), "length"}
// for the VM's only disk (`disks` names the VM's disks), vSphere's
// {"changedArea": [...]}, or an object of disk name to either. Error
// kInvalidArgument, naming `origin`, for anything else, a disk the VM does
// not have, or a range that is not two whole numbers.
ChangedRanges ParseChangedRanges(const std::string& json,
                                 const std::string& origin,
                                 const std::vector<std::string>& disks);

// ParseChangedRanges of the file at `path`; Error kNotFound when it cannot
// be read.
ChangedRanges LoadChangedRanges(const std::string& path,
                                const std::vector<std::string>& disks);

// Error kInvalidArgument naming the first range of `disk` that ends past
// `size`, the disk's size in bytes.
void RequireWithinDisk(const ChangedRanges& changed,
                       const std::string& disk,
                       uint64_t size);

}  // namespace sendense
