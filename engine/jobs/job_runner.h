#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/backup/backup_job.h"
#include "engine/repo/repository.h"
#include "engine/states.h"

namespace sendense {

// What the outside sees of one job.
struct JobStatus {
  int64_t id = 0;
  std::string vm;
  JobState state = JobState::kQueued;
  std::string phase;   // queued, copying, indexing, done
  std::string backup;  // the backup's name, as soon as it has one
  std::string error;
  uint64_t bytes_total = 0;
  uint64_t bytes_done = 0;
  uint64_t entries_indexed = 0;  // guest files indexed so far
  double rate = 0;  // bytes per second: so far, or over the whole copy
  std::string created_at, started_at, finished_at;  // ISO 8601 UTC
};

// Runs backups on a bounded pool of workers, in order of submission. A
// job can be cancelled while queued or running; a cancelled backup
// publishes nothing (the engine cleans up and records it as failed).
// Thread-safe.
class JobRunner {
 public:
  JobRunner(const Repository& repo, size_t workers, bool index_guest_files);
  ~JobRunner();  // cancels what runs, waits for the workers

  struct Submitted {
    int64_t id = 0;
    bool created = false;  // false: a backup of the VM was queued or running
  };
  // Queues a backup, unless one of the same VM is queued or running: then
  // that job is returned (one backup of a VM at a time).
  Submitted Submit(const BackupRequest& request);
  std::vector<JobStatus> List() const;
  std::optional<JobStatus> Get(int64_t id) const;
  // False when there is no such job or it has ended.
  bool Cancel(int64_t id);
  void CancelAll();
  // Jobs ended so far by state, and bytes copied, for /metrics.
  std::map<JobState, uint64_t> Counts() const;
  uint64_t BytesCopied() const { return bytes_copied_; }

 private:
  struct Job {
    JobStatus status;
    BackupRequest request;
    BackupProgress progress;
    std::chrono::steady_clock::time_point started;
    std::optional<std::chrono::steady_clock::time_point> copied;
  };
  void Work();
  JobStatus Snapshot(const Job& job) const;

  const Repository& repo_;
  const bool index_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<int64_t, std::shared_ptr<Job>> jobs_;
  std::deque<std::shared_ptr<Job>> queue_;
  int64_t next_id_ = 1;
  bool stop_ = false;
  std::atomic<uint64_t> bytes_copied_{0};
  std::vector<std::thread> workers_;
};

}  // namespace sendense
