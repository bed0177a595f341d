#pragma once

// Live counters of a running job (a backup, restore, copy, verify, prune),
// read by progress displays and the job list. Written by the job's
// thread, read by any.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "engine/states.h"

namespace sendense {

struct JobProgress {
  std::atomic<JobPhase> phase{JobPhase::kQueued};
  std::atomic<uint64_t> bytes_total{0};  // grows as each disk is planned
  std::atomic<uint64_t> bytes_done{0};
  std::atomic<uint64_t> entries_indexed{0};  // guest files, while indexing
  std::atomic<bool> cancel{false};           // set to stop the job

  // The backup's name, once the catalog has given it one.
  void SetBackupName(const std::string& name);
  std::string backup_name() const;

 private:
  mutable std::mutex mutex_;
  std::string backup_name_;
};

}  // namespace sendense
