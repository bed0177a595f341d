#pragma once

// The readers of the tree's files that are not guest files read by extent
// map (mapped_file_reader.h): backup.json from memory, a raw disk from its
// point's chain, a guest file through its point's appliance.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/browse/reader.h"
#include "engine/catalog/catalog.h"
#include "engine/guest/appliance_pool.h"
#include "engine/qcow2/chain_reader.h"
#include "engine/repo/repository.h"

namespace sendense::browse {

// Readers hold a shared lease on the files of the point they read, so that
// a prune never merges into a point while it is read (PointLease); the
// wait covers the moment a merged file is renamed into place.
inline constexpr std::chrono::milliseconds kLeaseWait{2000};

// Bytes in memory (backup.json).
std::shared_ptr<Reader> MakeContentReader(std::string content);

// A raw disk: the point's checked QCOW2 chain, with its holes; a cluster
// that does not match its digest is told to `on_damage` and fails the read.
using OnDamage = std::function<void(const qcow2::DigestMismatch&)>;
std::shared_ptr<Reader> MakeDiskReader(
    Leases leases,
    std::shared_ptr<const qcow2::ChainReader> chain,
    uint64_t size,
    OnDamage on_damage);

// A guest file (`path` in the appliance, "/sda1/etc/motd") read inside the
// point's libguestfs appliance, started on first use and shared by every
// reader of that point.
std::shared_ptr<Reader> MakeGuestFileReader(
    Leases leases,
    const Repository& repo,
    guest::AppliancePool& appliances,
    BackupRecord backup,
    std::vector<guest::FoundFilesystem> fss,
    std::string path,
    uint64_t size);

}  // namespace sendense::browse
