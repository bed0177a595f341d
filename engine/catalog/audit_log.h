#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/catalog/sqlite.h"

namespace sendense {

// How an audited action ended: done; tried and failed; not allowed (a
// wrong password, a missing right, a quota).
enum class AuditOutcome { kOk, kFailed, kRefused };
const char* OutcomeName(AuditOutcome outcome);

// Who did what, when, from where. Never holds a password or a secret.
struct AuditRecord {
  int64_t id = 0;
  std::string at;       // ISO time, UTC (set by Append)
  std::string actor;    // "alice@acme", "api-token", "cli:root"
  std::string tenant;   // whose object it was ("" the appliance's)
  std::string address;  // the caller's IP address, "local" for the CLI
  std::string action;   // "sign-in", "backup", "prune", "user add" ...
  std::string target;   // "web1@acme", "web1@acme/2026-12-01T02.00.00Z"
  AuditOutcome outcome = AuditOutcome::kOk;
  std::string detail;  // an error's sentence, a role given
};

// The audit log in the catalog: append-only (the catalog refuses to
// change a row, or to remove one younger than its audit_keep_days).
class AuditLog {
 public:
  explicit AuditLog(const std::string& catalog_path);

  void Append(AuditRecord record);
  // Newest first: of `tenant` when given, since the ISO time `since` when
  // not empty, at most `limit`.
  std::vector<AuditRecord> Query(const std::optional<std::string>& tenant,
                                 const std::string& since,
                                 size_t limit);
  // Removes records older than the repository's audit_keep_days; returns
  // how many.
  int64_t Expire();

 private:
  sqlite::Database db_;
};

// The tenant a record's target belongs to: that of its first part
// ("web1@acme/2026-12-01T02.00.00Z" -> "acme"), "" for the appliance's.
std::string TenantOfTarget(const std::string& target);

nlohmann::json AuditJson(const AuditRecord& r);

}  // namespace sendense
