#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "engine/backup/ranges.h"
#include "engine/nbd/nbd_connection.h"

namespace sendense {

// What to do with each cluster of a disk for one point.
struct CopyPlan {
  RangeList data;   // read from the source and store
  RangeList zeros;  // store as zeros without reading
};

// Builds the plan from the source's base:allocation extents and, for an
// incremental, its dirty-bitmap extents. Clusters that are entirely zero
// (NBD_STATE_ZERO) are never read. For an incremental only clusters that
// touch a dirty extent are in the plan; the rest fall through to the
// backing point. All ranges are whole clusters (the last may be short).
CopyPlan BuildCopyPlan(
    uint64_t disk_size,
    uint64_t cluster_size,
    const std::vector<NbdConnection::Extent>& allocation,
    const std::optional<std::vector<NbdConnection::Extent>>& dirty);

}  // namespace sendense
