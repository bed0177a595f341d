#pragma once

// Which VMs the repository knows: those configured (`vm add`) and those
// with backups in the catalog (a removed VM's backups remain). Every
// front end asks here whether a VM exists.

#include <string>
#include <vector>

#include "engine/catalog/catalog.h"
#include "engine/catalog/vm_configs.h"
#include "engine/repo/repository.h"

namespace sendense {

// Both kinds, sorted, once each.
std::vector<std::string> KnownVms(Catalog& catalog, VmConfigs& vms);
// Error kNotFound naming the nearest known name, unless `vm` is known;
// "" (every VM) passes.
void RequireKnownVm(Catalog& catalog, VmConfigs& vms, const std::string& vm);
void RequireKnownVm(const Repository& repo, const std::string& vm);

}  // namespace sendense
