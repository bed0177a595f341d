#include "engine/repo/catalog_pool.h"

namespace sendense {

CatalogPool::Lease CatalogPool::Acquire() {
  std::unique_ptr<Handles> handles;
  {
    std::lock_guard lock(mutex_);
    if (!free_.empty()) {
      handles = std::move(free_.back());
      free_.pop_back();
    }
  }
  if (!handles) {
    handles = std::make_unique<Handles>();
    handles->catalog = repo_.OpenCatalog();
    handles->index = std::make_unique<GuestIndex>(repo_.CatalogPath());
    handles->vms = std::make_unique<VmConfigs>(repo_.CatalogPath());
    handles->accounts = std::make_unique<Accounts>(repo_.CatalogPath());
    handles->audit = std::make_unique<AuditLog>(repo_.CatalogPath());
  }
  return Lease(handles.release(), [this](Handles* h) {
    if (h->catalog->snapshot() || h->index->snapshot()) {
      delete h;  // a full filesystem's snapshot: a live one next time
      return;
    }
    std::lock_guard lock(mutex_);
    free_.emplace_back(h);
  });
}

}  // namespace sendense
