// The catalog's VMs and backups: begun, completed, failed, interrupted,
// and queried with their points.

#include "engine/catalog/catalog.h"

#include <map>

#include "engine/catalog/catalog_rows.h"
#include "engine/catalog/guest_index.h"
#include "engine/error.h"

namespace sendense {
namespace {

// The report as recorded, its state "reviewed" once reviewed.
std::string SuspicionText(const std::string& report,
                          const std::string& reviewed_at) {
  if (report.empty() || reviewed_at.empty()) {
    return report;
  }
  auto j = nlohmann::json::parse(report, nullptr, false);
  if (j.is_discarded()) {
    return report;
  }
  j["state"] = "reviewed";
  j["reviewed_at"] = reviewed_at;
  return j.dump();
}

}  // namespace

using catalog_rows::kPointColumns;
using catalog_rows::kPointsFrom;
using catalog_rows::ReadPoint;

const char* const kInterruptedError =
    "the backup process ended before completing";

std::string BackupRecord::kind() const {
  if (points.empty()) {
    return "";
  }
  for (const auto& p : points) {
    if (p.kind != PointKind::kFull) {
      return "incremental";
    }
  }
  return "full";
}

int64_t Catalog::EnsureVm(const std::string& name) {
  db_.Prepare("INSERT OR IGNORE INTO vms (name) VALUES (?)")
      .Bind(1, name)
      .Run();
  return *FindVm(name);
}

std::optional<int64_t> Catalog::FindVm(const std::string& name) {
  auto s = db_.Prepare("SELECT id FROM vms WHERE name = ?");
  s.Bind(1, name);
  if (!s.Step()) {
    return std::nullopt;
  }
  return s.Int(0);
}

std::vector<std::string> Catalog::VmNames() {
  std::vector<std::string> names;
  auto s = db_.Prepare("SELECT name FROM vms ORDER BY name");
  while (s.Step()) {
    names.push_back(s.Text(0));
  }
  return names;
}

int64_t Catalog::BeginBackup(int64_t vm_id,
                             const std::string& base_name,
                             const std::string& started_at,
                             std::string& name) {
  sqlite::Transaction tx(db_);
  for (int n = 1;; ++n) {
    name = n == 1 ? base_name : base_name + "-" + std::to_string(n);
    auto s = db_.Prepare("SELECT 1 FROM backups WHERE vm_id = ? AND name = ?");
    s.Bind(1, vm_id).Bind(2, name);
    if (!s.Step()) {
      break;
    }
  }
  db_.Prepare(
         "INSERT INTO backups (vm_id, name, started_at, state) "
         "VALUES (?, ?, ?, 'running')")
      .Bind(1, vm_id)
      .Bind(2, name)
      .Bind(3, started_at)
      .Run();
  const int64_t id = db_.LastInsertId();
  tx.Commit();
  return id;
}

void Catalog::CompleteBackup(int64_t backup_id,
                             std::vector<PointRecord>& points,
                             const std::string& finished_at) {
  sqlite::Transaction tx(db_);
  for (PointRecord& p : points) {
    db_.Prepare(
           "INSERT INTO points (backup_id, disk, kind, reason, file, "
           "parent_id, virtual_size, bytes_read, bytes_stored, seconds, "
           "encrypted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .Bind(1, backup_id)
        .Bind(2, p.disk)
        .Bind(3, std::string(KindName(p.kind)))
        .Bind(4, p.reason)
        .Bind(5, p.file)
        .Bind(6, p.parent_id)
        .Bind(7, static_cast<int64_t>(p.virtual_size))
        .Bind(8, static_cast<int64_t>(p.bytes_read))
        .Bind(9, static_cast<int64_t>(p.bytes_stored))
        .Bind(10, p.seconds)
        .Bind(11, int64_t{p.encrypted})
        .Run();
    p.id = db_.LastInsertId();
    p.backup_id = backup_id;
    if (!p.disk_digest.empty()) {
      db_.Prepare(
             "INSERT INTO disk_digests (point_id, root, groups) "
             "VALUES (?, ?, ?)")
          .Bind(1, p.id)
          .Bind(2, p.disk_digest)
          .Bind(3, p.digest_groups)
          .Run();
    }
  }
  db_.Prepare(
         "UPDATE backups SET state = 'complete', finished_at = ? WHERE id = ?")
      .Bind(1, finished_at)
      .Bind(2, backup_id)
      .Run();
  tx.Commit();
}

void Catalog::FailBackup(int64_t backup_id,
                         const std::string& error,
                         const std::string& finished_at) {
  db_.Prepare(
         "UPDATE backups SET state = 'failed', error = ?, finished_at = ? "
         "WHERE id = ?")
      .Bind(1, error)
      .Bind(2, finished_at)
      .Bind(3, backup_id)
      .Run();
}

std::vector<std::string> Catalog::MarkInterrupted(
    int64_t vm_id,
    const std::string& finished_at) {
  sqlite::Transaction tx(db_);
  std::vector<std::string> names;
  auto s = db_.Prepare(
      "SELECT name FROM backups WHERE vm_id = ? AND state = 'running'");
  s.Bind(1, vm_id);
  while (s.Step()) {
    names.push_back(s.Text(0));
  }
  db_.Prepare(
         "UPDATE backups SET state = 'interrupted', error = ?, "
         "finished_at = ? WHERE vm_id = ? AND state = 'running'")
      .Bind(1, std::string(kInterruptedError))
      .Bind(2, finished_at)
      .Bind(3, vm_id)
      .Run();
  tx.Commit();
  return names;
}

std::optional<PointRecord> Catalog::LatestPoint(int64_t vm_id,
                                                const std::string& disk) {
  auto s = db_.Prepare(std::string("SELECT ") + kPointColumns + kPointsFrom +
                       "JOIN backups b ON b.id = p.backup_id "
                       "WHERE b.vm_id = ? AND p.disk = ? AND "
                       "b.state = 'complete' ORDER BY b.id DESC LIMIT 1");
  s.Bind(1, vm_id).Bind(2, disk);
  if (!s.Step()) {
    return std::nullopt;
  }
  return ReadPoint(s, 0);
}

std::vector<BackupRecord> Catalog::Backups(const std::string& vm) {
  return QueryBackups(vm.empty() ? "" : "WHERE v.name = ?1", vm, "");
}

std::optional<BackupRecord> Catalog::FindBackup(const std::string& vm,
                                                const std::string& name) {
  auto found = QueryBackups("WHERE v.name = ?1 AND b.name = ?2", vm, name);
  if (found.empty()) {
    return std::nullopt;
  }
  return std::move(found.front());
}

BackupRecord Catalog::RequireBackup(const std::string& vm,
                                    const std::string& name) {
  if (auto b = FindBackup(vm, name)) {
    return std::move(*b);
  }
  throw Error(ErrorKind::kNotFound,
              "VM '" + vm + "' has no point named '" + name + "'");
}

std::vector<BackupRecord> Catalog::QueryBackups(const std::string& where,
                                                const std::string& p1,
                                                const std::string& p2) {
  const auto bind = [&](sqlite::Statement& s) {
    if (where.find("?1") != std::string::npos) {
      s.Bind(1, p1);
    }
    if (where.find("?2") != std::string::npos) {
      s.Bind(2, p2);
    }
  };
  const std::string from =
      "FROM backups b JOIN vms v ON v.id = b.vm_id "
      "LEFT JOIN backup_sources bs ON bs.backup_id = b.id " +
      where;
  std::vector<BackupRecord> backups;
  std::map<int64_t, size_t> index;
  auto& s = db_.Cached(
      "SELECT b.id, v.name, b.name, b.started_at, coalesce(b.finished_at, ''), "
      "b.state, coalesce(b.error, ''), coalesce(bs.checkpoint, ''), "
      "coalesce(bs.consistency, ''), coalesce(bs.domain_xml, ''), "
      "coalesce(su.report, ''), coalesce(su.reviewed_at, '') "
      "FROM backups b JOIN vms v ON v.id = b.vm_id "
      "LEFT JOIN backup_sources bs ON bs.backup_id = b.id "
      "LEFT JOIN suspicions su ON su.backup_id = b.id " +
      where + " ORDER BY v.name, b.id");
  bind(s);
  while (s.Step()) {
    BackupRecord b;
    b.id = s.Int(0);
    b.vm = s.Text(1);
    b.name = s.Text(2);
    b.started_at = s.Text(3);
    b.finished_at = s.Text(4);
    b.state = ParseBackupState(s.Text(5));
    b.error = s.Text(6);
    b.checkpoint = s.Text(7);
    b.consistency = s.Text(8);
    b.domain_xml = s.Text(9);
    b.suspicion = SuspicionText(s.Text(10), s.Text(11));
    if (b.state == BackupState::kRunning && owner_alive_ &&
        !owner_alive_(b.vm)) {
      b.state = BackupState::kInterrupted;
      b.error = kInterruptedError;
    }
    index[b.id] = backups.size();
    backups.push_back(std::move(b));
  }
  // Through the (backup_id, disk) index: only the points of these backups.
  auto& p = db_.Cached(std::string("SELECT ") + kPointColumns + kPointsFrom +
                       "WHERE p.backup_id IN (SELECT b.id " + from +
                       ") ORDER BY p.backup_id, p.disk");
  bind(p);
  while (p.Step()) {
    PointRecord point = ReadPoint(p, 0);
    auto it = index.find(point.backup_id);
    if (it != index.end()) {
      backups[it->second].points.push_back(std::move(point));
    }
  }
  auto& c = db_.Cached(
      "SELECT c.backup_id, c.target FROM copies c "
      "WHERE c.backup_id IN (SELECT b.id " +
      from + ") ORDER BY c.backup_id, c.target");
  bind(c);
  while (c.Step()) {
    auto it = index.find(c.Int(0));
    if (it != index.end()) {
      backups[it->second].copies.push_back(c.Text(1));
    }
  }
  return backups;
}

void Catalog::RecordBackupSource(int64_t backup_id,
                                 const std::string& checkpoint,
                                 const std::string& consistency,
                                 const std::string& domain_xml) {
  db_.Prepare(
         "INSERT OR REPLACE INTO backup_sources (backup_id, checkpoint, "
         "consistency, domain_xml) VALUES (?, ?, ?, ?)")
      .Bind(1, backup_id)
      .Bind(2, checkpoint)
      .Bind(3, consistency)
      .Bind(4, domain_xml)
      .Run();
}

std::string Catalog::DigestGroups(int64_t point_id) {
  auto s = db_.Prepare("SELECT groups FROM disk_digests WHERE point_id = ?");
  s.Bind(1, point_id);
  return s.Step() ? s.Text(0) : std::string();
}

std::vector<std::string> Catalog::PointFiles(int64_t vm_id) {
  std::vector<std::string> files;
  auto s = db_.Prepare(
      "SELECT p.file FROM points p JOIN backups b ON b.id = p.backup_id "
      "WHERE b.vm_id = ?");
  s.Bind(1, vm_id);
  while (s.Step()) {
    files.push_back(s.Text(0));
  }
  return files;
}

}  // namespace sendense
