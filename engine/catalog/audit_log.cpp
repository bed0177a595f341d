#include "engine/catalog/audit_log.h"

#include "engine/catalog/catalog.h"
#include "engine/catalog/names.h"
#include "engine/time.h"

namespace sendense {
namespace {

const std::string& Migrated(const std::string& path) {
  Catalog migrate(path, false);
  return path;
}

AuditOutcome ParseOutcome(const std::string& s) {
  return s == "ok"       ? AuditOutcome::kOk
         : s == "failed" ? AuditOutcome::kFailed
                         : AuditOutcome::kRefused;
}

}  // namespace

const char* OutcomeName(AuditOutcome outcome) {
  switch (outcome) {
    case AuditOutcome::kOk:
      return "ok";
    case AuditOutcome::kFailed:
      return "failed";
    case AuditOutcome::kRefused:
      return "refused";
  }
  return "?";
}

AuditLog::AuditLog(const std::string& catalog_path)
    : db_(Migrated(catalog_path), false) {}

void AuditLog::Append(AuditRecord r) {
  db_.Prepare(
         "INSERT INTO audit (at, actor, tenant, address, action, target, "
         "outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
      .Bind(1, r.at.empty() ? NowIso() : r.at)
      .Bind(2, r.actor)
      .Bind(3, r.tenant)
      .Bind(4, r.address)
      .Bind(5, r.action)
      .Bind(6, r.target)
      .Bind(7, OutcomeName(r.outcome))
      .Bind(8, r.detail)
      .Run();
}

std::vector<AuditRecord> AuditLog::Query(
    const std::optional<std::string>& tenant,
    const std::string& since,
    size_t limit) {
  auto s = db_.Prepare(
      "SELECT id, at, actor, tenant, address, action, target, outcome, "
      "detail FROM audit WHERE (?1 IS NULL OR tenant = ?1) AND at >= ?2 "
      "ORDER BY id DESC LIMIT ?3");
  if (tenant) {
    s.Bind(1, *tenant);
  } else {
    s.Bind(1, std::nullopt);
  }
  s.Bind(2, since).Bind(3, static_cast<int64_t>(limit));
  std::vector<AuditRecord> out;
  while (s.Step()) {
    AuditRecord r;
    r.id = s.Int(0);
    r.at = s.Text(1);
    r.actor = s.Text(2);
    r.tenant = s.Text(3);
    r.address = s.Text(4);
    r.action = s.Text(5);
    r.target = s.Text(6);
    r.outcome = ParseOutcome(s.Text(7));
    r.detail = s.Text(8);
    out.push_back(std::move(r));
  }
  return out;
}

int64_t AuditLog::Expire() {
  auto s = db_.Prepare(
      "DELETE FROM audit WHERE at <= strftime('%Y-%m-%dT%H:%M:%SZ', 'now', "
      "'-' || coalesce((SELECT value FROM settings WHERE key = "
      "'audit_keep_days'), '365') || ' days')");
  s.Run();
  return db_.Changes();
}

std::string TenantOfTarget(const std::string& target) {
  return TenantOf(target.substr(0, target.find('/')));
}

nlohmann::json AuditJson(const AuditRecord& r) {
  return {{"id", r.id},
          {"at", r.at},
          {"actor", r.actor},
          {"tenant", r.tenant.empty() ? nlohmann::json(nullptr)
                                      : nlohmann::json(r.tenant)},
          {"address", r.address},
          {"action", r.action},
          {"target", r.target},
          {"outcome", OutcomeName(r.outcome)},
          {"detail", r.detail}};
}

}  // namespace sendense
