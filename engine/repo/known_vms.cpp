#include "engine/repo/known_vms.h"

#include <algorithm>

#include "engine/catalog/names.h"

namespace sendense {

std::vector<std::string> KnownVms(Catalog& catalog, VmConfigs& vms) {
  auto known = catalog.VmNames();
  const auto configured = vms.Names();
  known.insert(known.end(), configured.begin(), configured.end());
  std::sort(known.begin(), known.end());
  known.erase(std::unique(known.begin(), known.end()), known.end());
  return known;
}

void RequireKnownVm(Catalog& catalog, VmConfigs& vms, const std::string& vm) {
  if (!vm.empty() && !catalog.FindVm(vm) && !vms.Find(vm)) {
    ThrowNoSuchVm(vm, KnownVms(catalog, vms));
  }
}

void RequireKnownVm(const Repository& repo, const std::string& vm) {
  if (vm.empty()) {
    return;
  }
  auto catalog = repo.OpenCatalog();
  VmConfigs vms(repo.CatalogPath());
  RequireKnownVm(*catalog, vms, vm);
}

}  // namespace sendense
