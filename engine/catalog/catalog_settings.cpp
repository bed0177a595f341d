// The catalog's records of copies, immutability and repository settings.

#include "engine/catalog/catalog.h"

namespace sendense {

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
