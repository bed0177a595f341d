// The catalog's side of pruning: backups marked dropping, points merged
// into their children, and what is left removed.

#include "engine/catalog/catalog.h"

#include "engine/catalog/catalog_rows.h"
#include "engine/catalog/guest_index.h"
#include "engine/error.h"

namespace sendense {

using catalog_rows::kPointColumns;
using catalog_rows::kPointsFrom;
using catalog_rows::ReadPoint;

void Catalog::BeginDrop(int64_t backup_id) {
  sqlite::Transaction tx(db_);
  db_.Prepare(
         "UPDATE backups SET state = 'dropping' WHERE id = ? AND "
         "state IN ('complete', 'dropping')")
      .Bind(1, backup_id)
      .Run();
  if (db_.Changes() != 1) {
    throw Error(ErrorKind::kInvalidArgument,
                "only a complete backup can be dropped");
  }
  // The guest file index of the point goes with it: find and history
  // never name a point that is going away.
  DeleteGuestFiles(db_, backup_id);
  db_.Prepare("DELETE FROM guest_index_runs WHERE backup_id = ?")
      .Bind(1, backup_id)
      .Run();
  tx.Commit();
}

std::optional<PointRecord> Catalog::FindPoint(int64_t point_id) {
  auto s = db_.Prepare(std::string("SELECT ") + kPointColumns + kPointsFrom +
                       "WHERE p.id = ?");
  s.Bind(1, point_id);
  if (!s.Step()) {
    return std::nullopt;
  }
  return ReadPoint(s, 0);
}

std::optional<PointRecord> Catalog::ChildOf(int64_t point_id) {
  auto s = db_.Prepare(std::string("SELECT ") + kPointColumns + kPointsFrom +
                       "WHERE p.parent_id = ?");
  s.Bind(1, point_id);
  if (!s.Step()) {
    return std::nullopt;
  }
  return ReadPoint(s, 0);
}

void Catalog::DropPoint(const PointRecord& point,
                        const std::optional<PointRecord>& child) {
  sqlite::Transaction tx(db_);
  if (child) {
    db_.Prepare(
           "UPDATE points SET parent_id = ?, kind = ?, reason = ?, "
           "bytes_stored = ?, bytes_read = ?, encrypted = ? WHERE id = ?")
        .Bind(1, point.parent_id)
        .Bind(2, std::string(KindName(child->kind)))
        .Bind(3, child->reason)
        .Bind(4, static_cast<int64_t>(child->bytes_stored))
        .Bind(5, static_cast<int64_t>(child->bytes_read))
        .Bind(6, int64_t{child->encrypted})
        .Bind(7, child->id)
        .Run();
    if (!child->digest_groups.empty()) {
      // Re-derived by the drop (a merge that re-encrypted what it moved);
      // records read from the catalog leave the groups empty.
      db_.Prepare(
             "INSERT OR REPLACE INTO disk_digests (point_id, root, groups) "
             "VALUES (?, ?, ?)")
          .Bind(1, child->id)
          .Bind(2, child->disk_digest)
          .Bind(3, child->digest_groups)
          .Run();
    }
  }
  // The merged child is a new file: it reads as unverified until checked.
  for (const int64_t id : {point.id, child ? child->id : int64_t{0}}) {
    db_.Prepare("DELETE FROM verifications WHERE point_id = ?")
        .Bind(1, id)
        .Run();
  }
  db_.Prepare("DELETE FROM disk_digests WHERE point_id = ?")
      .Bind(1, point.id)
      .Run();
  db_.Prepare("DELETE FROM points WHERE id = ?").Bind(1, point.id).Run();
  tx.Commit();
}

void Catalog::RemoveBackup(int64_t backup_id) {
  sqlite::Transaction tx(db_);
  auto s = db_.Prepare("SELECT 1 FROM points WHERE backup_id = ?");
  s.Bind(1, backup_id);
  if (s.Step()) {
    throw Error(ErrorKind::kInvalidArgument,
                "a backup with points cannot be removed");
  }
  db_.Prepare("DELETE FROM guest_index_runs WHERE backup_id = ?")
      .Bind(1, backup_id)
      .Run();
  db_.Prepare("DELETE FROM backup_sources WHERE backup_id = ?")
      .Bind(1, backup_id)
      .Run();
  db_.Prepare("DELETE FROM copies WHERE backup_id = ?")
      .Bind(1, backup_id)
      .Run();
  db_.Prepare("DELETE FROM suspicions WHERE backup_id = ?")
      .Bind(1, backup_id)
      .Run();
  db_.Prepare("DELETE FROM backups WHERE id = ?").Bind(1, backup_id).Run();
  tx.Commit();
}

void Catalog::RemoveVm(int64_t vm_id) {
  sqlite::Transaction tx(db_);
  auto s = db_.Prepare("SELECT 1 FROM backups WHERE vm_id = ?");
  s.Bind(1, vm_id);
  if (s.Step()) {
    throw Error(ErrorKind::kInvalidArgument,
                "a VM with backups cannot be removed");
  }
  db_.Prepare("DELETE FROM vms WHERE id = ?").Bind(1, vm_id).Run();
  tx.Commit();
}

}  // namespace sendense
