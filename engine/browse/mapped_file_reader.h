#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "engine/browse/reader.h"
#include "engine/guest/extent_map.h"
#include "engine/qcow2/chain_reader.h"
#include "engine/repo/point_lease.h"

namespace sendense::browse {

// A guest file read straight from the point's chains through its checked
// extent map (guest/extent_map.h): the same reads, cache and digest checks
// as a raw disk, no appliance. Gaps and unwritten pieces read as zeros and
// are holes for SEEK_DATA / SEEK_HOLE.
class MappedFileReader : public Reader {
 public:
  using OnDamage = std::function<void(const qcow2::DigestMismatch&)>;
  // `disks[i]` is drive i of the map; the map was checked against them.
  MappedFileReader(std::vector<std::unique_ptr<PointLease>> leases,
                   std::vector<std::shared_ptr<const qcow2::ChainReader>> disks,
                   std::vector<guest::FileExtent> map,
                   uint64_t size,
                   OnDamage on_damage);
  uint64_t size() const override { return size_; }
  size_t Read(std::span<std::byte> buf, uint64_t offset) const override;
  std::optional<uint64_t> Seek(uint64_t offset, bool data) const override;

 private:
  // The first piece that ends after `offset`.
  std::vector<guest::FileExtent>::const_iterator From(uint64_t offset) const;

  std::vector<std::unique_ptr<PointLease>> leases_;
  std::vector<std::shared_ptr<const qcow2::ChainReader>> disks_;
  std::vector<guest::FileExtent> map_;
  uint64_t size_;
  OnDamage on_damage_;
};

}  // namespace sendense::browse
