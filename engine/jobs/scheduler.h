#pragma once

#include "engine/jobs/job_runner.h"
#include "engine/periodic.h"
#include "engine/repo/repository.h"

namespace sendense {

// Starts backups of VMs whose schedule is due (their VmConfig's), checking
// every 5 s, through `jobs`; none for a VM whose backup is queued or
// running. With `verify_every` (seconds, 0 for never) it also starts a
// verify job of each VM that has a complete point not verified for that
// long (checked once a minute). Stops when destroyed.
class Scheduler {
 public:
  Scheduler(const Repository& repo, JobRunner& jobs, int64_t verify_every = 0);

  // One check, as the thread makes it (exposed for tests).
  void Tick();

 private:
  void StartDueVerifies(Catalog& catalog, int64_t now);

  const Repository& repo_;
  JobRunner& jobs_;
  const int64_t verify_every_;
  int64_t last_verify_check_ = 0;
  PeriodicThread thread_;  // last: ticks use the rest
};

}  // namespace sendense
