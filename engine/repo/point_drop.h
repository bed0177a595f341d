#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/catalog/catalog.h"
#include "engine/repo/repository.h"

namespace sendense {

// What dropping one backup did.
struct DropResult {
  std::string vm, backup;
  uint64_t merged_bytes = 0;  // data moved into the points that remain
  uint64_t freed_bytes = 0;   // the repository shrank by this much
};

struct DropOptions {
  // How long to wait for readers of a point to close it before giving up
  // (the backup stays hidden and the next prune finishes the drop).
  std::chrono::milliseconds reader_wait{10000};
};

// Drops backup `b` (complete, or a drop a crash interrupted) of its VM,
// whose lock the caller holds; every other point stays byte-identical.
//
// The backup is first marked "dropping" in the catalog, which hides it and
// is the journal. Then, disk by disk, its point's file is merged with the
// point that is backed by it (qcow2::MergeIntoBacking, under an exclusive
// lease: readers of the dropped point finish first) and renamed over that
// point's file, so that the points above find it by the same name; a
// point nothing is backed by is simply removed. The catalog row goes last.
// Whether a disk is done is read from the files (the child's backing name),
// so running it again after a crash at any moment finishes the job.
// Errors: kBusy (readers did not close in time), kNoSpace, kCorrupt; the
// backup then stays "dropping" and hidden, and nothing is lost.
DropResult DropBackup(const Repository& repo,
                      Catalog& catalog,
                      const BackupRecord& b,
                      const DropOptions& options = {});

// Finishes the drops of `vm` that a crash interrupted (its lock held).
std::vector<DropResult> FinishDrops(const Repository& repo,
                                    Catalog& catalog,
                                    const std::string& vm,
                                    const DropOptions& options = {});

}  // namespace sendense
