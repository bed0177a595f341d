#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/backup/backup_job.h"
#include "engine/catalog/targets.h"
#include "engine/repo/repository.h"

namespace sendense::copy {

struct CopyRequest {
  std::string to;  // the second repository (`init`-ed), or a target's name
  std::string vm;  // "" for every VM
};

struct CopiedPoint {
  std::string disk;
  // "as stored": its file moved as it is (its parent is there already);
  // "flattened": written whole, as a full (the target has no parent).
  std::string how;
  uint64_t bytes = 0;  // written to the target
};

struct CopiedBackup {
  std::string vm, backup;
  std::string state;  // "copied", "refused" (damaged), "failed"
  std::string error;
  std::vector<CopiedPoint> points;
  double seconds = 0;
};

struct CopyReport {
  std::string to;
  std::vector<CopiedBackup> backups;  // what was missing, oldest first
  uint64_t bytes = 0;
  double seconds = 0;
  size_t not_copied() const;  // refused or failed
};

// The VMs a copy from `from` goes through: `vm` alone (Error kNotFound,
// with the nearest name, when `from` has no such VM), or every VM when
// it is "".
std::vector<std::string> VmsToCopy(const Repository& from,
                                   const std::string& vm);

// Checks that `dir` holds a repository before anything is written there:
// Error kNotFound with the sentence for an empty directory (a share not
// mounted) or no repository; kInvalidArgument when `target` (a directory
// target) was added with another repository (its id differs).
void RequireRepositoryAt(const std::string& dir,
                         const Target* target = nullptr);

// {"to", "backups": [{"vm", "backup", "state", "error", "seconds",
//  "points": [{"disk", "how", "bytes"}]}], "bytes", "seconds"}
nlohmann::json CopyReportJson(const CopyReport& report);

// Copies every complete backup of `from` newer than the newest that
// `request.to` has of its VM (all of them the first time; what the target
// pruned on its own policy is not copied again), VM by VM, oldest first: a
// point whose parent the target has moves as it is stored (an incremental stays
// one), else it is written whole as a full. Copied points are checked against
// their digests on arrival; a point verify or a read found damaged is refused,
// and the VM's later points wait for the next run. Each backup is published in
// the target as a backup is (files renamed into place and synced before its
// catalog records them; a copy killed at any moment leaves nothing the next run
// does not reclaim) with its guest file index, and the source records where it
// was copied. Progress in `progress` (bytes of data to write); its cancel flag
// stops between points. Error kNotFound when the target is not a repository,
// kInvalidArgument when it is the source itself, kNoSpace when a backup
// would not fit (before it is written).
CopyReport Copy(const Repository& from,
                const CopyRequest& request,
                JobProgress& progress);

}  // namespace sendense::copy
