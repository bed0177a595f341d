#include "engine/repo/vm_removal.h"

#include "engine/catalog/names.h"
#include "engine/catalog/vm_configs.h"
#include "engine/error.h"

namespace sendense {

VmRemoval RemoveVm(const Repository& repo, const std::string& name) {
  VmRemoval out;
  out.vm = name;
  VmConfigs configs(repo.CatalogPath());
  auto catalog = repo.OpenCatalogForWriting();
  const auto vm_id = catalog->FindVm(name);
  const bool configured = configs.Find(name).has_value();
  if (!vm_id && !configured) {
    auto known = catalog->VmNames();
    const auto names = configs.Names();
    known.insert(known.end(), names.begin(), names.end());
    ThrowNoSuchVm(name, known);
  }
  if (vm_id) {
    const Repository::VmLock lock(repo, name, "a removal");
    // What killed runs left is reclaimed first (under the lock).
    repo.Reclaim(*catalog, name);
    for (const auto& b : catalog->Backups(name)) {
      if (b.state == BackupState::kFailed ||
          b.state == BackupState::kInterrupted) {
        catalog->RemoveBackup(b.id);
        out.records.push_back(b.name);
      } else {
        ++out.points_kept;
      }
    }
    if (out.points_kept == 0) {
      catalog->RemoveVm(*vm_id);
    }
  }
  if (configured) {
    configs.Remove(name);
    out.configuration = true;
  }
  return out;
}

nlohmann::json VmRemovalJson(const VmRemoval& r) {
  return {{"removed", r.vm},
          {"configuration", r.configuration},
          {"records_removed", r.records},
          {"points_kept", r.points_kept}};
}

}  // namespace sendense
