#pragma once

#include <memory>
#include <mutex>

#include "engine/backup/backup_job.h"
#include "engine/periodic.h"

namespace sendense::cli {

// Shows a running backup's progress on stderr from its own thread: a bar
// redrawn in place on a terminal, a line every few seconds otherwise
// (bytes, rate, ETA); then, while guest files are indexed, the entries
// found and the time spent (an appliance takes 10-60 s to start).
class ProgressDisplay {
 public:
  explicit ProgressDisplay(const JobProgress& progress);
  ~ProgressDisplay();  // stops and prints the last state

 private:
  void Print(bool final);
  void PrintCopy(bool final);
  void PrintIndexing(bool final);

  const JobProgress& progress_;
  const bool tty_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point index_start_;
  JobPhase shown_ = JobPhase::kQueued;
  std::unique_ptr<PeriodicThread> ticker_;  // prints; stopped first
};

// While alive, SIGINT and SIGTERM set `cancel` (the running job stops and
// cleans up) instead of killing the process.
class CancelOnSignal {
 public:
  explicit CancelOnSignal(std::atomic<bool>& cancel);
  ~CancelOnSignal();
  CancelOnSignal(const CancelOnSignal&) = delete;
  CancelOnSignal& operator=(const CancelOnSignal&) = delete;
};

}  // namespace sendense::cli
