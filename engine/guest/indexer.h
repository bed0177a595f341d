#pragma once

#include <atomic>
#include <optional>
#include <vector>

#include "engine/catalog/catalog.h"
#include "engine/catalog/guest_index.h"
#include "engine/guest/appliance.h"
#include "engine/repo/repository.h"

namespace sendense::guest {

// The drives of a backup: its points' files, by disk name.
std::vector<Drive> DrivesOf(const Repository& repo, const BackupRecord& backup);
// DrivesOf for an appliance: with the VM's key when a point is encrypted
// (Error kDenied in one sentence when it is missing).
std::vector<Drive> ApplianceDrives(const Repository& repo,
                                   const BackupRecord& backup);

// Lists every file of the filesystem mounted at `mountpoint` in `app`:
// names from find0, attributes from lstatnslist and link targets from
// readlinklist, a directory (and 1,000 names) per call.
// Adds the entries it has stat'ed to `*entries` as it goes, when given.
IndexedFilesystem WalkFilesystem(Appliance& app,
                                 const std::string& mountpoint,
                                 std::atomic<uint64_t>* entries = nullptr);

// The backup whose guest file index `backup` can take as it is: the one
// before it, when every point of `backup` is an incremental of that
// backup's point that read nothing (no block changed) and that backup was
// indexed without error; nullopt otherwise.
std::optional<int64_t> UnchangedSince(const Repository& repo,
                                      const BackupRecord& backup);

// Builds the guest file index of a complete backup in one appliance and
// replaces what the catalog had for it, recording the run (also when it
// finds no filesystem). A filesystem that cannot be mounted or walked is
// recorded as failed with the reason; the others are indexed. When the
// whole run fails (the appliance does not start), that is recorded and
// the error rethrown. A backup in which no block changed takes the index
// of the one before it (UnchangedSince) without starting an appliance.
// Counts entries in `*entries` when given.
std::vector<GuestFilesystem> IndexBackup(
    const Repository& repo,
    const BackupRecord& backup,
    std::atomic<uint64_t>* entries = nullptr);

// Which complete backups `sendense index` indexes: `point` of `vm` alone
// when given (Error kNotFound when `vm` has no complete point of that
// name; kInvalidArgument for a point without its VM); else of `vm` ("" for
// every VM) those never indexed, and with `retry` also those whose last
// run found no filesystem or failed (left alone otherwise: `skipped`).
struct IndexPlan {
  std::vector<BackupRecord> todo;  // oldest first
  size_t skipped = 0;
};
IndexPlan PlanIndexing(const Repository& repo,
                       const std::string& vm,
                       const std::string& point,
                       bool retry);

}  // namespace sendense::guest
