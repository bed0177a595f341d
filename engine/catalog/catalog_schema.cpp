// The catalog's schema: its migrations, applied when it is opened.

#include "engine/catalog/catalog.h"

#include "engine/error.h"

namespace sendense {
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
    // Access: tenants with their quotas, users (a tenant's are NAME@TENANT)
    // with a role and an Argon2id password hash (none for PAM users), API
    // tokens (the secret's hash; rights at most their user's), and the
    // append-only audit log: no row changes, and none goes before it is
    // older than the repository's audit_keep_days (365 by default).
    R"sql(
    CREATE TABLE tenants (
      name TEXT PRIMARY KEY,
      quota_bytes INTEGER,
      max_vms INTEGER,
      created_at TEXT NOT NULL
    );
    CREATE TABLE users (
      name TEXT PRIMARY KEY,
      tenant TEXT REFERENCES tenants(name),
      role TEXT NOT NULL
        CHECK (role IN ('admin', 'operator', 'restore', 'audit')),
      realm TEXT NOT NULL CHECK (realm IN ('sendense', 'pam')),
      password_hash TEXT NOT NULL DEFAULT '',
      created_at TEXT NOT NULL
    );
    CREATE TABLE tokens (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
      name TEXT NOT NULL,
      role TEXT NOT NULL
        CHECK (role IN ('admin', 'operator', 'restore', 'audit')),
      secret_hash TEXT NOT NULL,
      created_at TEXT NOT NULL,
      expires_at TEXT NOT NULL DEFAULT '',
      last_used_at TEXT NOT NULL DEFAULT '',
      UNIQUE (user, name)
    );
    CREATE TABLE audit (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      at TEXT NOT NULL,
      actor TEXT NOT NULL,
      tenant TEXT NOT NULL DEFAULT '',
      address TEXT NOT NULL DEFAULT '',
      action TEXT NOT NULL,
      target TEXT NOT NULL DEFAULT '',
      outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'failed', 'refused')),
      detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX audit_by_tenant ON audit (tenant, id);
    CREATE TRIGGER audit_rows_never_change BEFORE UPDATE ON audit
    BEGIN
      SELECT RAISE(ABORT, 'the audit log is append-only');
    END;
    CREATE TRIGGER audit_rows_stay_their_time BEFORE DELETE ON audit
    WHEN old.at > strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-' ||
      coalesce((SELECT value FROM settings WHERE key = 'audit_keep_days'),
               '365') || ' days')
    BEGIN
      SELECT RAISE(ABORT, 'audit records are kept until they expire');
    END;
    )sql",
    // Hypervisors whose libvirt VMs are backed up (a VM names its host in
    // vm_configs.source), and how their backup data reaches the appliance.
    R"sql(
    CREATE TABLE hosts (
      name TEXT PRIMARY KEY,
      libvirt TEXT NOT NULL,
      nbd_address TEXT NOT NULL DEFAULT '',
      nbd_tls TEXT NOT NULL DEFAULT '',
      insecure_nbd INTEGER NOT NULL DEFAULT 0,
      port_min INTEGER NOT NULL DEFAULT 10809,
      port_max INTEGER NOT NULL DEFAULT 10839,
      max_jobs INTEGER,
      server_tls TEXT NOT NULL DEFAULT '',
      created_at TEXT NOT NULL
    );
    )sql",
    // Where copies go: another repository (a directory) or S3 object
    // storage, by name (copy --to NAME, vm set --copy-to NAME).
    R"sql(
    CREATE TABLE targets (
      name TEXT PRIMARY KEY,
      kind TEXT NOT NULL CHECK (kind IN ('dir', 's3')),
      location TEXT NOT NULL,
      credentials TEXT NOT NULL DEFAULT '',
      region TEXT NOT NULL DEFAULT '',
      ca_file TEXT NOT NULL DEFAULT '',
      lock_days INTEGER NOT NULL DEFAULT 0,
      lock_mode TEXT NOT NULL DEFAULT '',
      bandwidth INTEGER NOT NULL DEFAULT 0,
      repository_id TEXT NOT NULL DEFAULT '',
      created_at TEXT NOT NULL
    );
    )sql",
    // A target's own retention (prune --target) and how long a chain in a
    // bucket grows before a copy goes whole (0: never).
    R"sql(
    ALTER TABLE targets ADD COLUMN retention TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE targets ADD COLUMN full_every INTEGER NOT NULL DEFAULT 0;
    )sql",
    // Whether a point's file is encrypted (LUKS; docs/encryption.md).
    R"sql(
    ALTER TABLE points ADD COLUMN encrypted INTEGER NOT NULL DEFAULT 0;
    )sql",
    // Guest files by filesystem, then path: diff reads one filesystem in
    // path order, and dropping a backup's index finds its rows (was a scan
    // of the table). guest_files_by_path stays for history (one path in
    // every filesystem).
    R"sql(
    CREATE INDEX guest_files_by_fs_path ON guest_files (fs_id, path);
    )sql",
    // Suspicious change: a backup's guest files against the point before
    // (engine/catalog/suspicion.h), as its JSON report; reviewed by an
    // admin when reviewed_at is set.
    R"sql(
    CREATE TABLE suspicions (
      backup_id INTEGER PRIMARY KEY REFERENCES backups(id),
      report TEXT NOT NULL,
      reviewed_at TEXT NOT NULL DEFAULT ''
    );
    )sql",
};

}  // namespace

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

}  // namespace sendense
