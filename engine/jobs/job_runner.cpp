#include "engine/jobs/job_runner.h"

#include "engine/error.h"
#include "engine/guest/indexer.h"
#include "engine/log.h"
#include "engine/time.h"

namespace sendense {

JobRunner::JobRunner(const Repository& repo,
                     size_t workers,
                     bool index_guest_files)
    : repo_(repo), index_(index_guest_files) {
  for (size_t i = 0; i < std::max<size_t>(1, workers); ++i) {
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

JobRunner::Submitted JobRunner::Submit(const BackupRequest& request) {
  auto job = std::make_shared<Job>();
  job->request = request;
  std::lock_guard lock(mutex_);
  for (const auto& [id, other] : jobs_) {
    if (other->status.vm == request.vm && Active(other->status.state)) {
      return {id, false};
    }
  }
  job->status.id = next_id_++;
  job->status.vm = request.vm;
  job->status.state = JobState::kQueued;
  job->status.created_at = NowIso();
  jobs_[job->status.id] = job;
  queue_.push_back(job);
  wake_.notify_one();
  Log(LogLevel::kInfo, "job " + std::to_string(job->status.id) +
                           " queued: backup of VM " + request.vm);
  return {job->status.id, true};
}

JobStatus JobRunner::Snapshot(const Job& job) const {
  JobStatus s = job.status;
  s.bytes_total = job.progress.bytes_total;
  s.bytes_done = job.progress.bytes_done;
  s.entries_indexed = job.progress.entries_indexed;
  if (s.backup.empty()) {
    s.backup = job.progress.backup_name();
  }
  s.phase = Active(s.state) ? StateName(job.progress.phase) : "done";
  // Running: the rate so far; copied: the average over the copy (guest
  // file indexing after it not counted).
  const bool running = s.state == JobState::kRunning && !job.copied;
  if (running || job.copied) {
    const auto end = running ? std::chrono::steady_clock::now() : *job.copied;
    const double secs =
        std::chrono::duration<double>(end - job.started).count();
    s.rate = secs > 0 ? static_cast<double>(s.bytes_done) / secs : 0;
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
  if (job.status.state == JobState::kRunning) {
    job.progress.cancel = true;
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

void JobRunner::Work() {
  while (true) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) {
        return;
      }
      job = queue_.front();
      queue_.pop_front();
      job->status.state = JobState::kRunning;
      job->status.started_at = NowIso();
      job->started = std::chrono::steady_clock::now();
    }
    const std::string name = "job " + std::to_string(job->status.id);
    Log(LogLevel::kInfo, name + " running: backup of VM " + job->status.vm);
    JobState state = JobState::kComplete;
    std::string error, backup;
    try {
      const BackupResult result = RunBackup(repo_, job->request, job->progress);
      {
        std::lock_guard lock(mutex_);
        job->copied = std::chrono::steady_clock::now();
      }
      backup = result.backup;
      bytes_copied_ += job->progress.bytes_done;
      if (index_) {
        job->progress.phase = BackupPhase::kIndexing;
        try {
          auto catalog = repo_.OpenCatalog();
          if (auto b = catalog->FindBackup(result.vm, result.backup)) {
            guest::IndexBackup(repo_, *b, &job->progress.entries_indexed);
          }
        } catch (const std::exception& e) {
          Log(LogLevel::kWarning,
              name + ": indexing guest files failed: " + std::string(e.what()));
        }
      }
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
            (backup.empty() ? "" : ": backup " + backup) +
            (error.empty() ? "" : ": " + error));
    job->progress.phase = BackupPhase::kDone;
    std::lock_guard lock(mutex_);
    job->status.state = state;
    job->status.error = error;
    job->status.backup = backup;
    job->status.finished_at = NowIso();
  }
}

}  // namespace sendense
