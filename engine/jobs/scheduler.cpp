#include "engine/jobs/scheduler.h"

#include <chrono>

#include "engine/catalog/vm_configs.h"
#include "engine/log.h"
#include "engine/time.h"

namespace sendense {

Scheduler::Scheduler(const Repository& repo, JobRunner& jobs)
    : repo_(repo), jobs_(jobs), thread_(std::chrono::seconds(5), [this] {
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
    if (vm.schedule.empty()) {
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
    if (!busy && ScheduleDue(vm.schedule, last, now)) {
      BackupRequest request;
      request.vm = vm.name;
      request.disks = vm.disks;
      request.bitmap = vm.bitmap;
      jobs_.Submit(request);
      Log(LogLevel::kInfo, "scheduler: backup of VM " + vm.name + " (" +
                               vm.schedule + ") started");
    }
  }
}

}  // namespace sendense
