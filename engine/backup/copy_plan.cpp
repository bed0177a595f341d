#include "engine/backup/copy_plan.h"

namespace sendense {
namespace {

RangeList WithFlag(const std::vector<NbdConnection::Extent>& extents,
                   uint32_t flag) {
  RangeList out;
  for (const auto& e : extents) {
    if (e.flags & flag) {
      AppendRange(out, e.offset, e.length);
    }
  }
  return out;
}

}  // namespace

CopyPlan BuildCopyPlan(
    uint64_t disk_size,
    uint64_t cluster_size,
    const std::vector<NbdConnection::Extent>& allocation,
    const std::optional<std::vector<NbdConnection::Extent>>& dirty) {
  RangeList target;
  if (dirty) {
    target =
        RoundOut(WithFlag(*dirty, kNbdStateDirty), cluster_size, disk_size);
  } else if (disk_size > 0) {
    target.push_back({0, disk_size});
  }
  const RangeList zero =
      RoundIn(WithFlag(allocation, kNbdStateZero), cluster_size, disk_size);
  CopyPlan plan;
  plan.zeros = Intersect(target, zero);
  plan.data = Subtract(target, zero);
  return plan;
}

}  // namespace sendense
