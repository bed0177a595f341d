#pragma once

#include "engine/jobs/job_runner.h"
#include "engine/periodic.h"
#include "engine/repo/repository.h"

namespace sendense {

// Starts backups of VMs whose schedule is due (their VmConfig's), checking
// every 5 s, through `jobs`; none for a VM whose backup is queued or
// running. Stops when destroyed.
class Scheduler {
 public:
  Scheduler(const Repository& repo, JobRunner& jobs);

  // One check, as the thread makes it (exposed for tests).
  void Tick();

 private:
  const Repository& repo_;
  JobRunner& jobs_;
  PeriodicThread thread_;  // last: ticks use the rest
};

}  // namespace sendense
