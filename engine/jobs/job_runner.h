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

#include <functional>

#include <nlohmann/json.hpp>

#include "engine/backup/backup_job.h"
#include "engine/copy/copy.h"
#include "engine/repo/repository.h"
#include "engine/restore/restore.h"
#include "engine/retention/prune.h"
#include "engine/states.h"
#include "engine/verify/verify.h"

namespace sendense {

// What the outside sees of one job.
struct JobStatus {
  int64_t id = 0;
  JobKind kind = JobKind::kBackup;
  std::string vm;
  std::string host;    // the hypervisor a backup reads from (host add), or ""
  std::string target;  // the copy target a prune of a target works on, or ""
  JobState state = JobState::kQueued;
  JobPhase phase = JobPhase::kQueued;
  std::string backup;  // the backup's name, as soon as it has one
  std::string error;
  uint64_t bytes_total = 0;
  uint64_t bytes_done = 0;
  uint64_t entries_indexed = 0;  // guest files indexed so far
  double rate = 0;  // bytes per second: so far, or over the whole copy
  // A backup's copy, without the guest file indexing after it (the rate's
  // time); nullopt until its copy ends and for other kinds.
  std::optional<double> copy_seconds;
  std::string created_at, started_at, finished_at;  // ISO 8601 UTC
  nlohmann::json result;  // prune, forget, verify, restore: reports; else null
};

struct JobRunnerOptions {
  size_t workers = 2;
  bool index_guest_files = true;  // after each backup
  // After each backup of a VM with a retention policy, queue a prune of it;
  // of a VM with a copy target (`vm add --copy-to`), a copy to it; after a
  // copy to a target with a retention policy, a prune of the target.
  bool prune_after_backup = true;
};

// Runs jobs (backups, prunes, forgets) on a bounded pool of workers, in
// order of submission, never two of the same VM at once (they would wait
// for its lock): a job whose VM is busy waits in the queue. A job can be
// cancelled while queued; a running backup too (it publishes nothing: the
// engine cleans up and records it as failed). Thread-safe.
class JobRunner {
 public:
  JobRunner(const Repository& repo, const JobRunnerOptions& options);
  ~JobRunner();  // cancels what runs, waits for the workers

  struct Submitted {
    int64_t id = 0;
    bool created = false;  // false: a job of that kind and VM was pending
  };
  // Queues a job, unless a backup or prune of the same VM is queued or
  // running: then that job is returned (one backup of a VM at a time).
  Submitted Submit(const BackupRequest& request);
  Submitted SubmitPrune(const retention::PruneRequest& request);
  // A prune of a copy target by its own policy (copy::PruneTarget): one
  // per target and VM at a time; its result is {"prunes": [...]}.
  Submitted SubmitTargetPrune(const std::string& target,
                              const retention::PruneRequest& request);
  Submitted SubmitForget(const std::string& vm,
                         const std::vector<std::string>& points);
  // A verify job; its result is the verify report (VerifyReportJson).
  Submitted SubmitVerify(const verify::VerifyRequest& request);
  // A restore job (several may run for one VM); its result is the restore
  // report (RestoreReportJson); it can be cancelled while it runs.
  Submitted SubmitRestore(const restore::RestoreRequest& request);
  // A copy job (one per VM at a time); its result is the copy report
  // (CopyReportJson); it fails when a backup was not copied.
  Submitted SubmitCopy(const copy::CopyRequest& request);
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
    // Runs the job; returns the backup's name (backups) and sets `result`.
    std::function<std::string(Job&)> run;
    JobProgress progress;
    std::optional<int64_t> host_max_jobs;  // backups at once on its host
    std::chrono::steady_clock::time_point started;
    std::optional<std::chrono::steady_clock::time_point> copied;
  };
  Submitted Enqueue(JobKind kind,
                    const std::string& vm,
                    std::function<std::string(Job&)> run,
                    const std::string& host = "",
                    std::optional<int64_t> host_max_jobs = std::nullopt,
                    const std::string& target = "");
  std::string Backup(Job& job, const BackupRequest& request);
  // Runs `prune` (a repository's or a target's) as the job's work.
  std::string Prune(
      Job& job,
      const std::function<std::vector<retention::PruneReport>()>& prune);
  // The queued job to run next, called locked: of those whose VM has no
  // running job and whose host is below its limit, one of the host with
  // the fewest running jobs (jobs without a host are a host of their
  // own), first come first served within it; none when all must wait.
  std::shared_ptr<Job> NextRunnable();
  void Work();
  JobStatus Snapshot(const Job& job) const;

  const Repository& repo_;
  const JobRunnerOptions options_;
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
