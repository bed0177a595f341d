#include "engine/backup/ranges.h"

#include <algorithm>

namespace sendense {

void AppendRange(RangeList& list, uint64_t offset, uint64_t length) {
  if (length == 0) {
    return;
  }
  if (!list.empty() && list.back().end() >= offset) {
    const uint64_t end = std::max(list.back().end(), offset + length);
    list.back().length = end - list.back().offset;
    return;
  }
  list.push_back({offset, length});
}

RangeList RoundOut(const RangeList& list, uint64_t unit, uint64_t limit) {
  RangeList out;
  for (const ByteRange& r : list) {
    const uint64_t start = r.offset & ~(unit - 1);
    const uint64_t end = std::min(limit, (r.end() + unit - 1) & ~(unit - 1));
    if (end > start) {
      AppendRange(out, start, end - start);
    }
  }
  return out;
}

RangeList RoundIn(const RangeList& list, uint64_t unit, uint64_t limit) {
  RangeList out;
  for (const ByteRange& r : list) {
    const uint64_t start = (r.offset + unit - 1) & ~(unit - 1);
    const uint64_t end = r.end() >= limit ? limit : r.end() & ~(unit - 1);
    if (end > start) {
      AppendRange(out, start, end - start);
    }
  }
  return out;
}

RangeList Intersect(const RangeList& a, const RangeList& b) {
  RangeList out;
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const uint64_t start = std::max(a[i].offset, b[j].offset);
    const uint64_t end = std::min(a[i].end(), b[j].end());
    if (end > start) {
      AppendRange(out, start, end - start);
    }
    if (a[i].end() < b[j].end()) {
      ++i;
    } else {
      ++j;
    }
  }
  return out;
}

RangeList Subtract(const RangeList& a, const RangeList& b) {
  RangeList out;
  size_t j = 0;
  for (const ByteRange& r : a) {
    uint64_t pos = r.offset;
    while (j < b.size() && b[j].end() <= pos) {
      ++j;
    }
    size_t k = j;
    while (pos < r.end()) {
      if (k >= b.size() || b[k].offset >= r.end()) {
        AppendRange(out, pos, r.end() - pos);
        break;
      }
      if (b[k].offset > pos) {
        AppendRange(out, pos, b[k].offset - pos);
      }
      pos = std::max(pos, b[k].end());
      ++k;
    }
  }
  return out;
}

uint64_t TotalLength(const RangeList& list) {
  uint64_t total = 0;
  for (const ByteRange& r : list) {
    total += r.length;
  }
  return total;
}

}  // namespace sendense
