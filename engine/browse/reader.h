#pragma once

// An open file of the tree, whatever it reads from: the interface the
// namespace hands to the FUSE tree and the HTTP API.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "engine/repo/point_lease.h"

namespace sendense::browse {

// Shared leases on the files of the point a reader reads (PointLease).
using Leases = std::vector<std::unique_ptr<PointLease>>;

// An open file of the namespace. Thread-safe.
class Reader {
 public:
  virtual ~Reader() = default;
  virtual uint64_t size() const = 0;
  // Fills `buf` from `offset` (short only at the end); may block (a guest
  // file's appliance starting).
  virtual size_t Read(std::span<std::byte> buf, uint64_t offset) const = 0;
  // SEEK_DATA (`data`) or SEEK_HOLE at or after `offset` < size();
  // nullopt when no data follows.
  virtual std::optional<uint64_t> Seek(uint64_t offset, bool data) const;
  // Reads answer at once (no disk, no appliance).
  virtual bool in_memory() const { return false; }
};

}  // namespace sendense::browse
