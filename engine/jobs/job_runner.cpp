#include "engine/jobs/job_runner.h"

#include <algorithm>

#include "engine/catalog/targets.h"
#include "engine/catalog/vm_configs.h"
#include "engine/copy/target_prune.h"
#include "engine/error.h"
#include "engine/jobs/backup_then_index.h"
#include "engine/log.h"
#include "engine/time.h"

namespace sendense {

JobRunner::JobRunner(const Repository& repo, const JobRunnerOptions& options)
    : repo_(repo), options_(options) {
  for (size_t i = 0; i < std::max<size_t>(1, options_.workers); ++i) {
    workers_.emplace_back([this] { Work(); });
  }
}

JobRunner::~JobRunner() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  CancelAll();
  wake_.notify_all();
  for (auto& w : workers_) {
    w.join();
  }
}

JobRunner::Submitted JobRunner::Enqueue(JobKind kind,
                                        const std::string& vm,
                                        std::function<std::string(Job&)> run,
                                        const std::string& host,
                                        std::optional<int64_t> host_max_jobs,
                                        const std::string& target) {
  auto job = std::make_shared<Job>();
  job->run = std::move(run);
  job->status.host = host;
  job->status.target = target;
  job->host_max_jobs = host_max_jobs;
  std::lock_guard lock(mutex_);
  for (const auto& [id, other] : jobs_) {
    // One of each kind per VM at a time; forgets and restores each their own.
    if (kind != JobKind::kForget && kind != JobKind::kRestore &&
        other->status.vm == vm && other->status.kind == kind &&
        other->status.target == target && Active(other->status.state)) {
      return {id, false};
    }
  }
  job->status.id = next_id_++;
  job->status.kind = kind;
  job->status.vm = vm;
  job->status.state = JobState::kQueued;
  job->status.created_at = NowIso();
  jobs_[job->status.id] = job;
  queue_.push_back(job);
  wake_.notify_one();
  Log(LogLevel::kInfo, "job " + std::to_string(job->status.id) +
                           " queued: " + KindName(kind) + " of VM " + vm);
  return {job->status.id, true};
}

JobRunner::Submitted JobRunner::Submit(const BackupRequest& request) {
  return Enqueue(
      JobKind::kBackup, request.vm,
      [this, request](Job& job) { return Backup(job, request); }, request.host,
      request.host_max_jobs);
}

JobRunner::Submitted JobRunner::SubmitPrune(
    const retention::PruneRequest& request) {
  return Enqueue(JobKind::kPrune, request.vm, [this, request](Job& job) {
    return Prune(job, [&] { return retention::Prune(repo_, request); });
  });
}

JobRunner::Submitted JobRunner::SubmitTargetPrune(
    const std::string& target,
    const retention::PruneRequest& request) {
  return Enqueue(
      JobKind::kPrune, request.vm,
      [this, target, request](Job& job) {
        return Prune(job, [&] {
          return copy::PruneTarget(
              repo_, Targets(repo_.CatalogPath()).Require(target), request);
        });
      },
      "", std::nullopt, target);
}

JobRunner::Submitted JobRunner::SubmitForget(
    const std::string& vm,
    const std::vector<std::string>& points) {
  return Enqueue(JobKind::kForget, vm, [this, vm, points](Job& job) {
    job.progress.phase = JobPhase::kPruning;
    const auto report = retention::Forget(repo_, vm, points);
    job.progress.bytes_done = report.merged_bytes;
    std::lock_guard lock(mutex_);
    job.status.result = retention::PruneReportJson(report);
    return std::string();
  });
}

JobRunner::Submitted JobRunner::SubmitVerify(
    const verify::VerifyRequest& request) {
  return Enqueue(JobKind::kVerify, request.vm, [this, request](Job& job) {
    job.progress.phase = JobPhase::kVerifying;
    const auto report = verify::Verify(repo_, request);
    job.progress.bytes_done = report.bytes_read;
    std::lock_guard lock(mutex_);
    job.status.result = verify::VerifyReportJson(report);
    return std::string();
  });
}

JobRunner::Submitted JobRunner::SubmitRestore(
    const restore::RestoreRequest& request) {
  return Enqueue(JobKind::kRestore, request.vm, [this, request](Job& job) {
    const auto report = restore::Restore(repo_, request, job.progress);
    std::lock_guard lock(mutex_);
    job.status.result = restore::RestoreReportJson(report);
    return report.backup;
  });
}

JobRunner::Submitted JobRunner::SubmitCopy(const copy::CopyRequest& request) {
  return Enqueue(JobKind::kCopy, request.vm, [this, request](Job& job) {
    const auto report = copy::Copy(repo_, request, job.progress);
    {
      std::lock_guard lock(mutex_);
      job.status.result = copy::CopyReportJson(report);
    }
    for (const auto& b : report.backups) {
      if (b.state != "copied") {
        throw Error(ErrorKind::kIo, b.vm + "/" + b.backup +
                                        " was not copied to " + report.to +
                                        ": " + b.error);
      }
    }
    const auto target = Targets(repo_.CatalogPath()).Find(request.to);
    if (options_.prune_after_backup && target && !target->retention.empty() &&
        !report.backups.empty()) {
      retention::PruneRequest prune;
      prune.vm = request.vm;
      SubmitTargetPrune(target->name, prune);  // its own policy, its own job
    }
    return std::string();
  });
}

std::string JobRunner::Backup(Job& job, const BackupRequest& request) {
  const std::string name = "job " + std::to_string(job.status.id);
  const auto outcome = BackUpThenIndex(
      repo_, request, job.progress, options_.index_guest_files, [&] {
        std::lock_guard lock(mutex_);
        job.copied = std::chrono::steady_clock::now();
      });
  const BackupResult& result = outcome.backup;
  bytes_copied_ += job.progress.bytes_done;
  if (!outcome.index.error.empty()) {
    Log(LogLevel::kWarning,
        name + ": indexing guest files failed: " + outcome.index.error);
  }
  if (options_.prune_after_backup) {
    const auto config = VmConfigs(repo_.CatalogPath()).Find(result.vm);
    if (config && !config->retention.empty()) {
      retention::PruneRequest prune;
      prune.vm = result.vm;
      SubmitPrune(prune);  // the VM's stored policy, as its own job
    }
    if (config && !config->copy_to.empty()) {
      SubmitCopy({config->copy_to, result.vm});  // 3-2-1, as its own job
    }
  }
  return result.backup;
}

std::string JobRunner::Prune(
    Job& job,
    const std::function<std::vector<retention::PruneReport>()>& prune) {
  job.progress.phase = JobPhase::kPruning;
  const auto reports = prune();
  for (const auto& r : reports) {
    job.progress.bytes_done += r.merged_bytes;
  }
  std::lock_guard lock(mutex_);
  job.status.result = retention::PrunesJson(reports);
  return "";
}

JobStatus JobRunner::Snapshot(const Job& job) const {
  JobStatus s = job.status;
  s.bytes_total = job.progress.bytes_total;
  s.bytes_done = job.progress.bytes_done;
  s.entries_indexed = job.progress.entries_indexed;
  if (s.backup.empty()) {
    s.backup = job.progress.backup_name();
  }
  s.phase = Active(s.state) ? job.progress.phase.load() : JobPhase::kDone;
  // Running: the rate so far; copied: the average over the copy (guest
  // file indexing after it not counted).
  const bool running = s.state == JobState::kRunning && !job.copied;
  if (running || job.copied) {
    const auto end = running ? std::chrono::steady_clock::now() : *job.copied;
    const double secs =
        std::chrono::duration<double>(end - job.started).count();
    s.rate = secs > 0 ? static_cast<double>(s.bytes_done) / secs : 0;
    if (job.copied) {
      s.copy_seconds = secs;
    }
  }
  return s;
}

std::vector<JobStatus> JobRunner::List() const {
  std::lock_guard lock(mutex_);
  std::vector<JobStatus> out;
  for (const auto& [id, job] : jobs_) {
    out.push_back(Snapshot(*job));
  }
  return out;
}

std::optional<JobStatus> JobRunner::Get(int64_t id) const {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) {
    return std::nullopt;
  }
  return Snapshot(*it->second);
}

bool JobRunner::Cancel(int64_t id) {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) {
    return false;
  }
  Job& job = *it->second;
  if (job.status.state == JobState::kQueued) {
    job.status.state = JobState::kCancelled;
    job.status.finished_at = NowIso();
    std::erase(queue_, it->second);
    return true;
  }
  if (job.status.state == JobState::kRunning &&
      (job.status.kind == JobKind::kBackup ||
       job.status.kind == JobKind::kRestore)) {
    job.progress.cancel = true;  // a merge under way is not stopped halfway
    return true;
  }
  return false;
}

void JobRunner::CancelAll() {
  std::vector<int64_t> ids;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, job] : jobs_) {
      ids.push_back(id);
    }
  }
  for (int64_t id : ids) {
    Cancel(id);
  }
}

std::map<JobState, uint64_t> JobRunner::Counts() const {
  std::lock_guard lock(mutex_);
  std::map<JobState, uint64_t> counts;
  for (const auto& [id, job] : jobs_) {
    ++counts[job->status.state];
  }
  return counts;
}

std::shared_ptr<JobRunner::Job> JobRunner::NextRunnable() {
  std::map<std::string, int64_t> running_on;  // host ("": none) -> jobs
  for (const auto& [id, j] : jobs_) {
    if (j->status.state == JobState::kRunning) {
      ++running_on[j->status.host];
    }
  }
  auto best = queue_.end();
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    const std::string& vm = (*it)->status.vm;
    const bool busy = std::any_of(jobs_.begin(), jobs_.end(), [&](auto& j) {
      return j.second->status.state == JobState::kRunning &&
             (vm.empty() || j.second->status.vm.empty() ||
              j.second->status.vm == vm);
    });
    const int64_t load = running_on[(*it)->status.host];
    if (busy || ((*it)->host_max_jobs && load >= *(*it)->host_max_jobs)) {
      continue;
    }
    if (best == queue_.end() || load < running_on[(*best)->status.host]) {
      best = it;
    }
  }
  if (best == queue_.end()) {
    return nullptr;
  }
  auto job = *best;
  queue_.erase(best);
  return job;
}

void JobRunner::Work() {
  while (true) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock,
                 [&] { return stop_ || (job = NextRunnable()) != nullptr; });
      if (stop_) {
        return;
      }
      job->status.state = JobState::kRunning;
      job->status.started_at = NowIso();
      job->started = std::chrono::steady_clock::now();
    }
    const std::string name = "job " + std::to_string(job->status.id);
    Log(LogLevel::kInfo, name + " running: " + KindName(job->status.kind) +
                             " of VM " + job->status.vm);
    JobState state = JobState::kComplete;
    std::string error, backup;
    try {
      backup = job->run(*job);
    } catch (const Error& e) {
      state = e.kind() == ErrorKind::kCancelled ? JobState::kCancelled
                                                : JobState::kFailed;
      error = e.what();
    } catch (const std::exception& e) {
      state = JobState::kFailed;
      error = e.what();
    }
    Log(state == JobState::kComplete ? LogLevel::kInfo : LogLevel::kError,
        name + " " + StateName(state) +
            (backup.empty() ? ""
                            : ": " + std::string(KindName(job->status.kind)) +
                                  " of " + job->status.vm + "/" + backup) +
            (error.empty() ? "" : ": " + error));
    job->progress.phase = JobPhase::kDone;
    std::lock_guard lock(mutex_);
    job->status.state = state;
    job->status.error = error;
    job->status.backup = backup;
    job->status.finished_at = NowIso();
    wake_.notify_all();  // a job of the same VM may run now
  }
}

}  // namespace sendense
