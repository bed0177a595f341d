#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/backup/backup_job.h"
#include "engine/repo/repository.h"

namespace sendense::restore {

struct RestoreRequest {
  std::string vm;
  std::string point;         // a backup's name; "" for the newest complete one
  std::string disk;          // "" for the VM's only disk
  std::string target;        // see OpenTarget
  bool force = false;        // replace an existing file, write over a device
  unsigned connections = 4;  // NBD targets that allow multi-conn
  // A .qcow2 target: also write its cluster digests here (copy's
  // flattened fulls; qcow2::SumsPath of the target).
  std::string sums_path;
  // A .qcow2 target: encrypted with the VM's key when its new points are
  // (copy's flattened fulls: ciphertext stays ciphertext).
  bool encrypt_like_repository = false;
};

struct RestoreReport {
  std::string vm, backup, disk, target;
  std::string target_kind;  // "file", "qcow2", "block device", "nbd"
  uint64_t size = 0;        // the disk's virtual size
  uint64_t data_bytes = 0;  // written as data
  uint64_t zero_bytes = 0;  // written as zeros or left as holes
  double seconds = 0;
};

// {"vm", "backup", "disk", "target", "target_kind", "size", "data_bytes",
// "zero_bytes", "seconds"}: `restore --json` and a restore job's result.
nlohmann::json RestoreReportJson(const RestoreReport& report);

// Writes one disk of one point to a target: the point's chain read in
// place (every stored cluster checked against the digest recorded at
// backup time, as the tree does), several threads at once, only data as
// data: zero ranges become holes or NBD write-zeroes. The point is leased
// (a prune waits for the restore). progress.bytes_total is the disk's data
// bytes; progress.cancel stops it (Error kCancelled). A restore that fails
// leaves no new file behind. Errors: see ChoosePoint and OpenTarget; kIo
// and kNoSpace from the target; kCorrupt when stored data does not match
// its digest.
RestoreReport Restore(const Repository& repo,
                      const RestoreRequest& request,
                      JobProgress& progress);

}  // namespace sendense::restore
