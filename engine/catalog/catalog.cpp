#include "engine/catalog/catalog.h"

#include <map>

#include "engine/catalog/guest_index.h"
#include "engine/error.h"

namespace sendense {

const char* const kInterruptedError =
    "the backup process ended before completing";

namespace {

// Migration N brings the schema from version N to N + 1. Never edit one
// that has shipped; add a new one.
const char* const kMigrations[] = {
    R"sql(
    CREATE TABLE vms (
      id INTEGER PRIMARY KEY,
      name TEXT NOT NULL UNIQUE
    );
    CREATE TABLE backups (
      id INTEGER PRIMARY KEY,
      vm_id INTEGER NOT NULL REFERENCES vms(id),
      name TEXT NOT NULL,
      started_at TEXT NOT NULL,
      finished_at TEXT,
      state TEXT NOT NULL CHECK (state IN ('running', 'complete', 'failed')),
      error TEXT,
      UNIQUE (vm_id, name)
    );
    CREATE TABLE points (
      id INTEGER PRIMARY KEY,
      backup_id INTEGER NOT NULL REFERENCES backups(id),
      disk TEXT NOT NULL,
      kind TEXT NOT NULL CHECK (kind IN ('full', 'incremental')),
      reason TEXT NOT NULL,
      file TEXT NOT NULL UNIQUE,
      parent_id INTEGER REFERENCES points(id),
      virtual_size INTEGER NOT NULL,
      bytes_read INTEGER NOT NULL,
      bytes_stored INTEGER NOT NULL,
      seconds REAL NOT NULL,
      UNIQUE (backup_id, disk)
    );
    CREATE INDEX points_by_disk ON points (disk, backup_id);
    )sql",
    R"sql(
    CREATE TABLE guest_filesystems (
      id INTEGER PRIMARY KEY,
      backup_id INTEGER NOT NULL REFERENCES backups(id),
      name TEXT NOT NULL,
      device TEXT NOT NULL,
      fstype TEXT NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('indexed', 'failed')),
      error TEXT,
      files INTEGER NOT NULL DEFAULT 0,
      UNIQUE (backup_id, name)
    );
    CREATE TABLE guest_files (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      fs_id INTEGER NOT NULL REFERENCES guest_filesystems(id) ON DELETE CASCADE,
      parent INTEGER,
      name TEXT NOT NULL,
      path TEXT NOT NULL,
      mode INTEGER NOT NULL,
      uid INTEGER NOT NULL,
      gid INTEGER NOT NULL,
      size INTEGER NOT NULL,
      nlink INTEGER NOT NULL,
      ino INTEGER NOT NULL,
      rdev INTEGER NOT NULL,
      atime_ns INTEGER NOT NULL,
      mtime_ns INTEGER NOT NULL,
      ctime_ns INTEGER NOT NULL,
      link_id INTEGER NOT NULL,
      target TEXT
    );
    CREATE INDEX guest_files_by_parent ON guest_files (parent, id);
    CREATE UNIQUE INDEX guest_files_by_name ON guest_files (parent, name);
    CREATE INDEX guest_files_by_path ON guest_files (path, fs_id);
    )sql",
    R"sql(
    CREATE TABLE vm_configs (
      name TEXT PRIMARY KEY,
      disks TEXT NOT NULL,
      bitmap TEXT NOT NULL DEFAULT '',
      schedule TEXT NOT NULL DEFAULT ''
    );
    )sql",
    // A backup whose process died is "interrupted", not "failed"; whether
    // a backup's guest files were indexed (even finding none) is recorded.
    R"sql(
    CREATE TABLE backups_v4 (
      id INTEGER PRIMARY KEY,
      vm_id INTEGER NOT NULL REFERENCES vms(id),
      name TEXT NOT NULL,
      started_at TEXT NOT NULL,
      finished_at TEXT,
      state TEXT NOT NULL
        CHECK (state IN ('running', 'complete', 'failed', 'interrupted')),
      error TEXT,
      UNIQUE (vm_id, name)
    );
    INSERT INTO backups_v4
      SELECT id, vm_id, name, started_at, finished_at,
        CASE WHEN state = 'failed' AND error LIKE 'interrupted:%'
             THEN 'interrupted' ELSE state END,
        error
      FROM backups;
    DROP TABLE backups;
    ALTER TABLE backups_v4 RENAME TO backups;
    CREATE TABLE guest_index_runs (
      backup_id INTEGER PRIMARY KEY REFERENCES backups(id),
      finished_at TEXT NOT NULL,
      filesystems INTEGER NOT NULL,
      error TEXT NOT NULL DEFAULT ''
    );
    INSERT INTO guest_index_runs
      SELECT backup_id, '', count(*), '' FROM guest_filesystems
      GROUP BY backup_id;
    )sql",
    // Retention: a backup being pruned is "dropping" (the journal of the
    // merges under way); a VM's configuration holds its policy.
    R"sql(
    CREATE TABLE backups_v5 (
      id INTEGER PRIMARY KEY,
      vm_id INTEGER NOT NULL REFERENCES vms(id),
      name TEXT NOT NULL,
      started_at TEXT NOT NULL,
      finished_at TEXT,
      state TEXT NOT NULL CHECK (state IN
        ('running', 'complete', 'failed', 'interrupted', 'dropping')),
      error TEXT,
      UNIQUE (vm_id, name)
    );
    INSERT INTO backups_v5 SELECT * FROM backups;
    DROP TABLE backups;
    ALTER TABLE backups_v5 RENAME TO backups;
    ALTER TABLE vm_configs ADD COLUMN retention TEXT NOT NULL DEFAULT '{}';
    )sql",
    // Verify: per point, what its own check found and what that means
    // with its chain (a damaged point below makes it depends-on-damaged).
    R"sql(
    CREATE TABLE verifications (
      point_id INTEGER PRIMARY KEY REFERENCES points(id),
      state TEXT NOT NULL CHECK (state IN ('ok', 'damaged', 'unverified')),
      chain_state TEXT NOT NULL CHECK (chain_state IN
        ('ok', 'damaged', 'depends-on-damaged', 'unverified')),
      checked_at TEXT NOT NULL,
      problems TEXT NOT NULL DEFAULT '[]'
    );
    )sql",
    // Each point's whole-disk digest (qcow2/disk_digest.h): the root, and
    // the group digests a child derives its own from.
    R"sql(
    CREATE TABLE disk_digests (
      point_id INTEGER PRIMARY KEY REFERENCES points(id),
      root TEXT NOT NULL,
      groups TEXT NOT NULL
    );
    )sql",
    // libvirt: a VM's source, and per backup the checkpoint it made, how
    // consistent it is and the domain's XML at the time.
    R"sql(
    ALTER TABLE vm_configs ADD COLUMN source TEXT NOT NULL DEFAULT '';
    CREATE TABLE backup_sources (
      backup_id INTEGER PRIMARY KEY REFERENCES backups(id),
      checkpoint TEXT NOT NULL,
      consistency TEXT NOT NULL
        CHECK (consistency IN ('quiesced', 'crash-consistent', 'shut-off')),
      domain_xml TEXT NOT NULL
    );
    )sql",
    // Extent maps: where each regular file's data is on the backup's disks
    // (NULL: read through the appliance), and how much of each filesystem
    // is mapped.
    R"sql(
    ALTER TABLE guest_files ADD COLUMN extents BLOB;
    ALTER TABLE guest_filesystems ADD COLUMN regular_files INTEGER NOT NULL
      DEFAULT 0;
    ALTER TABLE guest_filesystems ADD COLUMN mapped_files INTEGER NOT NULL
      DEFAULT 0;
    ALTER TABLE guest_filesystems ADD COLUMN file_bytes INTEGER NOT NULL
      DEFAULT 0;
    ALTER TABLE guest_filesystems ADD COLUMN mapped_bytes INTEGER NOT NULL
      DEFAULT 0;
    UPDATE guest_filesystems SET
      regular_files = (SELECT count(*) FROM guest_files f
        WHERE f.fs_id = guest_filesystems.id AND (f.mode & 61440) = 32768),
      file_bytes = (SELECT coalesce(sum(f.size), 0) FROM guest_files f
        WHERE f.fs_id = guest_filesystems.id AND (f.mode & 61440) = 32768);
    )sql",
    // Copies: the repositories a backup was copied to; a VM's copy target.
    // Immutability: until when a point's file may not change (ISO time,
    // '' for never immutable); the repository's and a VM's days.
    R"sql(
    CREATE TABLE copies (
      backup_id INTEGER NOT NULL REFERENCES backups(id),
      target TEXT NOT NULL,
      copied_at TEXT NOT NULL,
      PRIMARY KEY (backup_id, target)
    );
    ALTER TABLE vm_configs ADD COLUMN copy_to TEXT NOT NULL DEFAULT '';
    ALTER TABLE vm_configs ADD COLUMN immutable_days REAL;
    ALTER TABLE points ADD COLUMN immutable_until TEXT NOT NULL DEFAULT '';
    CREATE TABLE settings (
      key TEXT PRIMARY KEY,
      value TEXT NOT NULL
    );
    )sql",
};

constexpr const char* kPointColumns =
    "p.id, p.backup_id, p.disk, p.kind, p.reason, p.file, p.parent_id, "
    "p.virtual_size, p.bytes_read, p.bytes_stored, p.seconds, "
    "coalesce(v.chain_state, 'unverified'), coalesce(v.checked_at, ''), "
    "coalesce(v.problems, '[]'), coalesce(d.root, ''), p.immutable_until";
// Points with what verify found (none: unverified) and their disk digest.
constexpr const char* kPointsFrom =
    " FROM points p LEFT JOIN verifications v ON v.point_id = p.id "
    "LEFT JOIN disk_digests d ON d.point_id = p.id ";

PointRecord ReadPoint(const sqlite::Statement& s, int first) {
  PointRecord p;
  p.id = s.Int(first);
  p.backup_id = s.Int(first + 1);
  p.disk = s.Text(first + 2);
  p.kind = ParsePointKind(s.Text(first + 3));
  p.reason = s.Text(first + 4);
  p.file = s.Text(first + 5);
  if (!s.IsNull(first + 6)) {
    p.parent_id = s.Int(first + 6);
  }
  p.virtual_size = static_cast<uint64_t>(s.Int(first + 7));
  p.bytes_read = static_cast<uint64_t>(s.Int(first + 8));
  p.bytes_stored = static_cast<uint64_t>(s.Int(first + 9));
  p.seconds = s.Real(first + 10);
  p.verify_state = s.Text(first + 11);
  p.verified_at = s.Text(first + 12);
  p.verify_problems = s.Text(first + 13);
  p.disk_digest = s.Text(first + 14);
  p.immutable_until = s.Text(first + 15);
  return p;
}

}  // namespace

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

Catalog::Catalog(const std::string& path, bool create) : db_(path, create) {
  Migrate();
}

void Catalog::SetOwnerProbe(std::function<bool(const std::string&)> alive) {
  owner_alive_ = std::move(alive);
}

int Catalog::SchemaVersion() {
  return static_cast<int>(std::size(kMigrations));
}

void Catalog::Migrate() {
  {
    // Current already (the usual case): no write, no fsync.
    auto s = db_.Prepare("PRAGMA user_version");
    s.Step();
    if (s.Int(0) == SchemaVersion()) {
      return;
    }
  }
  // Tables are rebuilt with foreign keys off (SQLite's documented way to
  // change a constraint); they are checked before the commit.
  db_.Exec("PRAGMA foreign_keys=OFF");
  {
    sqlite::Transaction tx(db_);
    int64_t version = 0;
    {
      // Finalized before the migrations: an open statement keeps tables
      // from being dropped.
      auto s = db_.Prepare("PRAGMA user_version");
      s.Step();
      version = s.Int(0);
    }
    if (version > SchemaVersion()) {
      throw Error(ErrorKind::kUnsupported,
                  "the catalog is from a newer Sendense (schema " +
                      std::to_string(version) + ")");
    }
    for (int64_t v = version; v < SchemaVersion(); ++v) {
      db_.Exec(kMigrations[v]);
    }
    if (db_.Prepare("PRAGMA foreign_key_check").Step()) {
      throw Error(ErrorKind::kCorrupt,
                  "catalog: a migration left a dangling reference");
    }
    db_.Exec("PRAGMA user_version = " + std::to_string(SchemaVersion()));
    tx.Commit();
  }
  db_.Exec("PRAGMA foreign_keys=ON");
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
           "parent_id, virtual_size, bytes_read, bytes_stored, seconds) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
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
      "coalesce(bs.consistency, ''), coalesce(bs.domain_xml, '') " +
      from + " ORDER BY v.name, b.id");
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
           "bytes_stored = ?, bytes_read = ? WHERE id = ?")
        .Bind(1, point.parent_id)
        .Bind(2, std::string(KindName(child->kind)))
        .Bind(3, child->reason)
        .Bind(4, static_cast<int64_t>(child->bytes_stored))
        .Bind(5, static_cast<int64_t>(child->bytes_read))
        .Bind(6, child->id)
        .Run();
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

void Catalog::RecordVerification(int64_t point_id,
                                 const std::string& state,
                                 const std::string& chain_state,
                                 const std::string& checked_at,
                                 const std::string& problems) {
  db_.Prepare(
         "INSERT OR REPLACE INTO verifications (point_id, state, chain_state, "
         "checked_at, problems) VALUES (?, ?, ?, ?, ?)")
      .Bind(1, point_id)
      .Bind(2, state)
      .Bind(3, chain_state)
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
    RecordVerification(s.Int(0), "damaged", "damaged", checked_at, problems);
  }
}

std::optional<std::string> Catalog::OwnVerifyState(int64_t point_id) {
  auto s = db_.Prepare("SELECT state FROM verifications WHERE point_id = ?");
  s.Bind(1, point_id);
  if (!s.Step()) {
    return std::nullopt;
  }
  return s.Text(0);
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
