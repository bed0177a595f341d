#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/repo/repository.h"

namespace sendense {

struct VmRemoval {
  std::string vm;
  bool configuration = false;        // its configuration was removed
  std::vector<std::string> records;  // failed/interrupted backups removed
  size_t points_kept = 0;            // complete backups, which stay
};

// Removes VM `name` (`vm rm`, DELETE /api/v1/vms/NAME): its configuration,
// its failed and interrupted backup records (they hold no point), and the
// VM itself once no complete backup of it is left. Complete backups stay
// until `forget` or `prune` drops them. Takes the VM's lock (Error kBusy
// while a backup of it runs). Error kNotFound when there is neither a
// configuration nor a backup of that name, with a "did you mean".
VmRemoval RemoveVm(const Repository& repo, const std::string& name);

// {"removed", "configuration", "records_removed", "points_kept"}
nlohmann::json VmRemovalJson(const VmRemoval& r);

}  // namespace sendense
