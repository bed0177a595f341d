#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/backup/changed_ranges.h"
#include "engine/backup/disk_copier.h"
#include "engine/catalog/disk_source.h"
#include "engine/progress.h"
#include "engine/repo/repository.h"
#include "engine/states.h"

namespace sendense {

class Catalog;

// Where a backup's disks come from when they are not given as NBD URIs (a
// libvirt backup job): opened under the VM's lock before anything is
// copied, told once the backup is complete, and ended by its destructor on
// every path (a failed backup leaves nothing of it behind).
class BackupSource {
 public:
  virtual ~BackupSource() = default;
  // The disks to copy: NBD URIs, and each disk's bitmap or full reason.
  virtual std::vector<DiskSource> Disks() = 0;
  // The backup is complete in the catalog (`backup_id`).
  virtual void Published(Catalog& catalog, int64_t backup_id) = 0;
};
using BackupSourceOpener =
    std::function<std::unique_ptr<BackupSource>(Catalog& catalog,
                                                int64_t vm_id)>;

struct BackupRequest {
  std::string vm;
  std::vector<DiskSource> disks;
  std::string bitmap;  // QEMU dirty bitmap exported by the sources, or ""
  // Instead of a bitmap: what changed since the previous point, tracked
  // outside the source.
  std::optional<ChangedRanges> changed;
  bool force_full = false;
  CopyOptions copy;
  BackupSourceOpener open_source;  // instead of `disks`
  // The hypervisor the backup reads from (host add), and how many backups
  // may run on it at once: the job runner's concern, not the backup's.
  std::string host;
  std::optional<int64_t> host_max_jobs;
};

struct DiskResult {
  std::string disk;
  PointKind kind = PointKind::kFull;
  std::string reason;  // why
  std::string file;    // relative to the repository
  uint64_t virtual_size = 0;
  uint64_t bytes_read = 0;
  uint64_t bytes_stored = 0;
  double seconds = 0;
};

struct BackupResult {
  std::string vm;
  std::string backup;  // the point's name (its time)
  int64_t id = 0;
  std::vector<DiskResult> disks;
  Repository::Reclaimed reclaimed;  // leftovers of earlier runs removed
  double seconds = 0;
};

// Backs up every disk of one VM as one backup. Holds the VM's lock
// throughout (Error kAlreadyExists when another backup of it runs), first
// reclaims what interrupted runs left, writes each point under a temporary
// name, and publishes all of them (rename, fsync of the directory) before
// the catalog records the backup as complete. On failure nothing is
// published, every file of this backup is removed, the catalog records the
// failure with its reason, and the error is rethrown.
BackupResult RunBackup(const Repository& repo,
                       const BackupRequest& request,
                       JobProgress& progress);

}  // namespace sendense
