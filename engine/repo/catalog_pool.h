#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "engine/catalog/accounts.h"
#include "engine/catalog/audit_log.h"
#include "engine/catalog/catalog.h"
#include "engine/catalog/guest_index.h"
#include "engine/catalog/vm_configs.h"
#include "engine/repo/repository.h"

namespace sendense {

// Open connections to the repository's catalog, reused across requests.
// A SQLite connection serves one thread at a time, and opening one costs
// far more than a request: each request leases a set and gives it back.
class CatalogPool {
 public:
  struct Handles {
    std::unique_ptr<Catalog> catalog;
    std::unique_ptr<GuestIndex> index;
    std::unique_ptr<VmConfigs> vms;
    std::unique_ptr<Accounts> accounts;
    std::unique_ptr<AuditLog> audit;
  };
  // Back to the pool when the last copy is gone (a streamed download keeps
  // one until its body is sent).
  using Lease = std::shared_ptr<Handles>;

  explicit CatalogPool(const Repository& repo) : repo_(repo) {}

  // Must outlive every lease.
  Lease Acquire();

 private:
  const Repository& repo_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Handles>> free_;
};

}  // namespace sendense
