#pragma once

// Sorted, disjoint byte ranges and the set operations the backup planner
// needs. Every function takes and returns ranges sorted by offset, with no
// overlaps and no empty ranges.

#include <cstdint>
#include <vector>

namespace sendense {

struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t end() const { return offset + length; }
  bool operator==(const ByteRange&) const = default;
};
using RangeList = std::vector<ByteRange>;

// Adds [offset, offset + length) to the end of `list`, merging with the
// last range when they touch. Ranges must be appended in order.
void AppendRange(RangeList& list, uint64_t offset, uint64_t length);

// Each range widened to whole units of `unit` (a power of two), clipped to
// `limit`.
RangeList RoundOut(const RangeList& list, uint64_t unit, uint64_t limit);
// Each range narrowed to the whole units inside it; a range ending at
// `limit` keeps its last partial unit (the disk's short last cluster).
RangeList RoundIn(const RangeList& list, uint64_t unit, uint64_t limit);
RangeList Intersect(const RangeList& a, const RangeList& b);
RangeList Subtract(const RangeList& a, const RangeList& b);
uint64_t TotalLength(const RangeList& list);

}  // namespace sendense
