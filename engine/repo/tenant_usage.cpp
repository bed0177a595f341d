#include "engine/repo/tenant_usage.h"

#include <algorithm>
#include <filesystem>

#include "engine/catalog/names.h"
#include "engine/error.h"

namespace sendense {
namespace {

uint64_t UsedByTenant(const Repository& repo,
                      const std::vector<std::string>& vms,
                      const std::string& tenant) {
  uint64_t used = 0;
  for (const auto& vm : vms) {
    if (TenantOf(vm) == tenant) {
      used += repo.UsedBytes(vm);
    }
  }
  return used;
}

// The VMs with files in the repository (a writer asks before the catalog
// knows of its VM's first backup).
std::vector<std::string> VmsWithFiles(const Repository& repo) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e :
       std::filesystem::directory_iterator(repo.Absolute("vms"), ec)) {
    out.push_back(e.path().filename().string());
  }
  return out;
}

std::string Gib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB",
                static_cast<double>(bytes) / (1024.0 * 1024 * 1024));
  return buf;
}

}  // namespace

std::vector<TenantUsage> MeasureTenants(
    const Repository& repo,
    Accounts& accounts,
    const std::vector<std::string>& known_vms) {
  std::vector<TenantUsage> out;
  for (const auto& t : accounts.Tenants()) {
    TenantUsage u;
    u.tenant = t;
    u.used_bytes = UsedByTenant(repo, known_vms, t.name);
    for (const auto& vm : known_vms) {
      u.vms += TenantOf(vm) == t.name ? 1 : 0;
    }
    out.push_back(std::move(u));
  }
  return out;
}

void RequireTenantRoom(const Repository& repo,
                       const std::string& vm,
                       uint64_t needed) {
  const std::string tenant = TenantOf(vm);
  if (tenant.empty()) {
    return;
  }
  Accounts accounts(repo.CatalogPath());
  const auto t = accounts.FindTenant(tenant);
  if (!t || !t->quota_bytes) {
    return;
  }
  const uint64_t quota = static_cast<uint64_t>(*t->quota_bytes);
  const uint64_t used = UsedByTenant(repo, VmsWithFiles(repo), tenant);
  if (used + needed > quota) {
    throw Error(ErrorKind::kNoSpace,
                "tenant '" + tenant + "' would go past its quota of " +
                    Gib(quota) + " (" + Gib(used) + " used, about " +
                    Gib(needed) + " more needed for " + vm +
                    "): nothing of it was written");
  }
}

CapacityReport MeasureTenantCapacity(
    const Repository& repo,
    Accounts& accounts,
    const std::string& tenant,
    const std::vector<std::string>& known_vms,
    const std::vector<BackupRecord>& its_backups) {
  CapacityReport c = MeasureCapacity(repo, its_backups);
  c.used_bytes = UsedByTenant(repo, known_vms, tenant);
  if (const auto t = accounts.FindTenant(tenant); t && t->quota_bytes) {
    const auto quota = static_cast<uint64_t>(*t->quota_bytes);
    c.free_bytes =
        std::min(c.free_bytes, quota > c.used_bytes ? quota - c.used_bytes : 0);
  }
  return c;
}

nlohmann::json TenantUsageJson(const TenantUsage& u) {
  auto j = TenantJson(u.tenant);
  j["used_bytes"] = u.used_bytes;
  j["vms"] = u.vms;
  return j;
}

}  // namespace sendense
