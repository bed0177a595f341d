#include "web/catalog_pool.h"

namespace sendense::web {

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
    handles->index = std::make_unique<GuestIndex>(repo_.Absolute("catalog.db"));
    handles->vms = std::make_unique<VmConfigs>(repo_.Absolute("catalog.db"));
  }
  return Lease(handles.release(), [this](Handles* h) {
    std::lock_guard lock(mutex_);
    free_.emplace_back(h);
  });
}

}  // namespace sendense::web
