#pragma once

// A backup as every front end runs it: copy the disks, then index the
// guest files of the new point (unless asked not to). The backup stays
// good when indexing fails: the failure is reported, not thrown.

#include <functional>
#include <string>
#include <vector>

#include "engine/backup/backup_job.h"
#include "engine/catalog/guest_index.h"
#include "engine/repo/repository.h"

namespace sendense {

struct IndexOutcome {
  bool ran = false;
  std::vector<GuestFilesystem> filesystems;
  std::string error;  // "" when indexing worked
  double seconds = 0;
};

struct BackupOutcome {
  BackupResult backup;
  IndexOutcome index;
};

// Runs the backup (errors thrown as RunBackup's), calls `copied` when its
// disks are stored and published, then, with `index`, indexes its guest
// files (`progress` in phase kIndexing, counting entries). Error kNoSpace
// from indexing is reported like any other: the point is already safe.
BackupOutcome BackUpThenIndex(const Repository& repo,
                              const BackupRequest& request,
                              JobProgress& progress,
                              bool index,
                              const std::function<void()>& copied = {});

}  // namespace sendense
