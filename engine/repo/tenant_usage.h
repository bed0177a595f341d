#pragma once

// What each tenant's VMs take in the repository, against its limits; the
// one check every writer makes before it writes for a tenant's VM.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/catalog/accounts.h"
#include "engine/repo/capacity_report.h"
#include "engine/repo/repository.h"

namespace sendense {

struct TenantUsage {
  Tenant tenant;
  uint64_t used_bytes = 0;  // its VMs' files on disk
  int64_t vms = 0;          // its VMs (configured or with backups)
};

// Every tenant's usage; `known_vms` are the repository's VMs (KnownVms).
std::vector<TenantUsage> MeasureTenants(
    const Repository& repo,
    Accounts& accounts,
    const std::vector<std::string>& known_vms);

// Error kNoSpace, one sentence naming the quota, when writing about
// `needed` more bytes for `vm` would take its tenant past its quota.
// Nothing for a VM of no tenant or a tenant without a quota.
void RequireTenantRoom(const Repository& repo,
                       const std::string& vm,
                       uint64_t needed);

// The capacity a tenant's callers see: its VMs' bytes, what its quota
// (and the filesystem) leaves free, and the growth of `its_backups`.
CapacityReport MeasureTenantCapacity(
    const Repository& repo,
    Accounts& accounts,
    const std::string& tenant,
    const std::vector<std::string>& known_vms,
    const std::vector<BackupRecord>& its_backups);

// TenantJson with "used_bytes" and "vms".
nlohmann::json TenantUsageJson(const TenantUsage& u);

}  // namespace sendense
