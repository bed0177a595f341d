#include "engine/jobs/scheduler.h"

#include <chrono>

#include "engine/catalog/vm_configs.h"
#include "engine/jobs/backup_request.h"
#include "engine/log.h"
#include "engine/time.h"

namespace sendense {

Scheduler::Scheduler(const Repository& repo,
                     JobRunner& jobs,
                     int64_t verify_every)
    : repo_(repo),
      jobs_(jobs),
      verify_every_(verify_every),
      thread_(std::chrono::seconds(5), [this] {
        try {
          Tick();
        } catch (const std::exception& e) {
          Log(LogLevel::kError, std::string("scheduler: ") + e.what());
        }
      }) {}

void Scheduler::Tick() {
  VmConfigs vms(repo_.CatalogPath());
  auto catalog = repo_.OpenCatalog();
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  for (const auto& vm : vms.List()) {
    if (vm.schedule.manual()) {
      continue;
    }
    int64_t last = 0;
    for (const auto& b : catalog->Backups(vm.name)) {
      last = std::max(last, ParseIsoTime(b.started_at));
    }
    bool busy = false;
    for (const auto& j : jobs_.List()) {
      busy |= j.vm == vm.name && Active(j.state);
    }
    if (!busy && vm.schedule.Due(last, now)) {
      jobs_.Submit(BackupRequestFor(vm));
      Log(LogLevel::kInfo, "scheduler: backup of VM " + vm.name + " (" +
                               vm.schedule.Describe() + ") started");
    }
  }
  if (verify_every_ > 0 && now - last_verify_check_ >= 60) {
    last_verify_check_ = now;
    StartDueVerifies(*catalog, now);
  }
}

void Scheduler::StartDueVerifies(Catalog& catalog, int64_t now) {
  for (const auto& vm : catalog.VmNames()) {
    bool due = false;
    for (const auto& b : catalog.Backups(vm)) {
      for (const auto& p : b.points) {
        due |= b.state == BackupState::kComplete &&
               verify::VerifyDue(p.verified_at, verify_every_, now);
      }
    }
    if (due) {
      verify::VerifyRequest request;
      request.vm = vm;
      request.max_age = verify_every_;
      if (jobs_.SubmitVerify(request).created) {
        Log(LogLevel::kInfo, "scheduler: verify of VM " + vm + " started");
      }
    }
  }
}

}  // namespace sendense
