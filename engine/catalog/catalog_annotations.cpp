// What other parts record beside the catalog's backups: verify's
// findings, copies to other repositories, immutability, and repository
// settings.

#include "engine/catalog/catalog.h"

namespace sendense {

void Catalog::RecordVerification(int64_t point_id,
                                 VerifyState state,
                                 VerifyState chain_state,
                                 const std::string& checked_at,
                                 const std::string& problems) {
  db_.Prepare(
         "INSERT OR REPLACE INTO verifications (point_id, state, chain_state, "
         "checked_at, problems) VALUES (?, ?, ?, ?, ?)")
      .Bind(1, point_id)
      .Bind(2, StateName(state))
      .Bind(3, StateName(chain_state))
      .Bind(4, checked_at)
      .Bind(5, problems)
      .Run();
}

void Catalog::MarkDamaged(const std::string& file,
                          const std::string& checked_at,
                          const std::string& problems) {
  auto s = db_.Prepare("SELECT id FROM points WHERE file = ?");
  s.Bind(1, file);
  if (s.Step()) {
    RecordVerification(s.Int(0), VerifyState::kDamaged, VerifyState::kDamaged,
                       checked_at, problems);
  }
}

std::optional<VerifyState> Catalog::OwnVerifyState(int64_t point_id) {
  auto s = db_.Prepare("SELECT state FROM verifications WHERE point_id = ?");
  s.Bind(1, point_id);
  if (!s.Step()) {
    return std::nullopt;
  }
  return ParseVerifyState(s.Text(0));
}

void Catalog::RecordCopy(int64_t backup_id,
                         const std::string& target,
                         const std::string& copied_at) {
  db_.Prepare(
         "INSERT OR REPLACE INTO copies (backup_id, target, copied_at) "
         "VALUES (?, ?, ?)")
      .Bind(1, backup_id)
      .Bind(2, target)
      .Bind(3, copied_at)
      .Run();
}

void Catalog::SetImmutableUntil(int64_t point_id, const std::string& until) {
  db_.Prepare("UPDATE points SET immutable_until = ? WHERE id = ?")
      .Bind(1, until)
      .Bind(2, point_id)
      .Run();
}

void Catalog::RecordSuspicion(int64_t backup_id, const nlohmann::json& report) {
  db_.Prepare(
         "INSERT OR REPLACE INTO suspicions (backup_id, report) VALUES (?, ?)")
      .Bind(1, backup_id)
      .Bind(2, report.dump())
      .Run();
}

std::optional<nlohmann::json> Catalog::Suspicion(int64_t backup_id) {
  auto s = db_.Prepare("SELECT report FROM suspicions WHERE backup_id = ?");
  s.Bind(1, backup_id);
  if (!s.Step()) {
    return std::nullopt;
  }
  auto j = nlohmann::json::parse(s.Text(0), nullptr, false);
  if (j.is_discarded()) {
    return std::nullopt;
  }
  return j;
}

bool Catalog::MarkReviewed(int64_t backup_id, const std::string& at) {
  const auto report = Suspicion(backup_id);
  if (!report || report->value("state", "") != "suspicious") {
    return false;
  }
  db_.Prepare("UPDATE suspicions SET reviewed_at = ? WHERE backup_id = ?")
      .Bind(1, at)
      .Bind(2, backup_id)
      .Run();
  return true;
}

std::optional<std::string> Catalog::Setting(const std::string& key) {
  auto s = db_.Prepare("SELECT value FROM settings WHERE key = ?");
  s.Bind(1, key);
  if (s.Step()) {
    return s.Text(0);
  }
  return std::nullopt;
}

void Catalog::SetSetting(const std::string& key, const std::string& value) {
  db_.Prepare("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)")
      .Bind(1, key)
      .Bind(2, value)
      .Run();
}

}  // namespace sendense
