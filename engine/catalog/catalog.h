#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/catalog/sqlite.h"
#include "engine/states.h"

namespace sendense {

// One stored point: one disk of one backup, one QCOW2 file.
struct PointRecord {
  int64_t id = 0;
  int64_t backup_id = 0;
  std::string disk;
  PointKind kind = PointKind::kFull;
  std::string reason;                // why this kind
  std::string file;                  // relative to the repository
  std::optional<int64_t> parent_id;  // the backing point of an incremental
  uint64_t virtual_size = 0;
  uint64_t bytes_read = 0;
  uint64_t bytes_stored = 0;
  double seconds = 0;
  // What verify found: "ok", "damaged", "depends-on-damaged" (a point
  // below it in the chain is damaged) or "unverified"; when; and the
  // problems as a JSON array of {"offset", "length", "what"}.
  VerifyState verify_state = VerifyState::kUnverified;
  std::string verified_at;
  std::string verify_problems = "[]";
  // The whole-disk digest (qcow2/disk_digest.h) recorded at backup time,
  // "" for points made before digests; its group digests are written with
  // the point and read back with Catalog::DigestGroups.
  std::string disk_digest;
  std::string digest_groups;
  // Until when its file is immutable (ISO time, UTC; "" for not).
  std::string immutable_until;
  // Its file is a LUKS-encrypted QCOW2 (docs/encryption.md).
  bool encrypted = false;
};

struct BackupRecord {
  int64_t id = 0;
  std::string vm;
  std::string name;  // the time, e.g. 2026-11-24T09.00.00Z, unique per VM
  std::string started_at;
  std::string finished_at;
  BackupState state = BackupState::kRunning;
  std::string error;
  std::vector<PointRecord> points;
  // A libvirt VM's backup: the checkpoint it made (the base of the next
  // incremental) and "quiesced" or "crash-consistent"; "" otherwise.
  std::string checkpoint;
  std::string consistency;
  std::string domain_xml;  // the domain's XML at the time
  // Repositories holding a copy of it (`copy --to`), by path.
  std::vector<std::string> copies;
  // Its suspicious-change report (SuspicionJson) as recorded, with
  // "state" "reviewed" once an admin reviewed it; "" when never checked.
  std::string suspicion;

  // "full" when every point is full, else "incremental" ("" with none).
  std::string kind() const;
};

// The error recorded for an interrupted backup.
extern const char* const kInterruptedError;

// The SQLite catalog of a repository: VMs, backups and points. Schema
// changes are numbered migrations recorded in PRAGMA user_version. Each
// method is one transaction. Not thread-safe: one Catalog per thread.
class Catalog {
 public:
  // Opens the catalog at `path`, creating it when `create`, and applies
  // pending migrations.
  Catalog(const std::string& path, bool create);

  static int SchemaVersion();

  // A read-only snapshot opened on a full filesystem (sqlite::Database):
  // reads work, writes throw kNoSpace, others' later commits are unseen.
  bool snapshot() const { return db_.snapshot(); }
  // Tells whether the process running a backup of a VM lives; a backup
  // still "running" whose owner is gone reads as "interrupted".
  void SetOwnerProbe(std::function<bool(const std::string& vm)> alive);

  int64_t EnsureVm(const std::string& name);
  std::optional<int64_t> FindVm(const std::string& name);
  std::vector<std::string> VmNames();

  // Records a running backup of `vm_id` named `base_name`, or `base_name-2`,
  // `-3`... when that name is taken. Returns its id; sets `name`.
  int64_t BeginBackup(int64_t vm_id,
                      const std::string& base_name,
                      const std::string& started_at,
                      std::string& name);
  // Records the points and marks the backup complete, atomically.
  void CompleteBackup(int64_t backup_id,
                      std::vector<PointRecord>& points,
                      const std::string& finished_at);
  void FailBackup(int64_t backup_id,
                  const std::string& error,
                  const std::string& finished_at);
  // Marks the VM's backups still "running" as interrupted; returns their
  // names. Called under the VM's lock, so none of them is live.
  std::vector<std::string> MarkInterrupted(int64_t vm_id,
                                           const std::string& finished_at);

  // The newest point of `disk` in a complete backup of `vm_id`.
  std::optional<PointRecord> LatestPoint(int64_t vm_id,
                                         const std::string& disk);
  // Backups (with their points), oldest first; all VMs when `vm` is empty.
  std::vector<BackupRecord> Backups(const std::string& vm);
  // The backup `name` of `vm` (with its points), in any state.
  std::optional<BackupRecord> FindBackup(const std::string& vm,
                                         const std::string& name);
  // The backup named `name` of `vm`; Error kNotFound "VM 'vm' has no point
  // named 'name'" when there is none.
  BackupRecord RequireBackup(const std::string& vm, const std::string& name);
  // Retention. BeginDrop marks a complete backup "dropping" (hidden; the
  // journal of its points' merges) and removes its guest file index.
  // ChildOf is the point backed by `point_id`. DropPoint removes `point`'s
  // row once its file is gone, giving `child` (merged with it) the
  // point's parent and the child's new kind, reason and bytes_stored
  // (and its disk digest when `child` carries re-derived digest_groups).
  // RemoveBackup removes a backup that has no points left (a dropped
  // one, or a failed or interrupted one).
  void BeginDrop(int64_t backup_id);
  std::optional<PointRecord> ChildOf(int64_t point_id);
  std::optional<PointRecord> FindPoint(int64_t point_id);
  void DropPoint(const PointRecord& point,
                 const std::optional<PointRecord>& child);
  void RemoveBackup(int64_t backup_id);
  // Removes a VM that has no backup left; Error kInvalidArgument else.
  void RemoveVm(int64_t vm_id);

  // Verify's findings for a point: its own `state` (ok, damaged or
  // unverified) and what it means with its chain (`chain_state`).
  void RecordVerification(int64_t point_id,
                          VerifyState state,
                          VerifyState chain_state,
                          const std::string& checked_at,
                          const std::string& problems);
  // Marks the point stored in `file` damaged (a read found a cluster that
  // does not match its digest); the next verify updates its chain.
  void MarkDamaged(const std::string& file,
                   const std::string& checked_at,
                   const std::string& problems);
  // The point's own state as last recorded; nullopt when never verified.
  std::optional<VerifyState> OwnVerifyState(int64_t point_id);

  // What a libvirt backup records beside its points.
  void RecordBackupSource(int64_t backup_id,
                          const std::string& checkpoint,
                          const std::string& consistency,
                          const std::string& domain_xml);
  // The recorded group digests of a point's disk digest ("" for none).
  std::string DigestGroups(int64_t point_id);
  // Records that `backup_id` was copied to the repository `target`.
  void RecordCopy(int64_t backup_id,
                  const std::string& target,
                  const std::string& copied_at);
  // The time (ISO, UTC) until which a point's file is immutable.
  void SetImmutableUntil(int64_t point_id, const std::string& until);
  // A backup's suspicious-change report (replacing one before), and
  // whether one was recorded; MarkReviewed says a suspicious one was seen
  // to (false when there is none, or it is not suspicious).
  void RecordSuspicion(int64_t backup_id, const nlohmann::json& report);
  std::optional<nlohmann::json> Suspicion(int64_t backup_id);
  bool MarkReviewed(int64_t backup_id, const std::string& at);
  // Repository settings ("immutable_days").
  std::optional<std::string> Setting(const std::string& key);
  void SetSetting(const std::string& key, const std::string& value);
  // Every file the catalog references for `vm_id`.
  std::vector<std::string> PointFiles(int64_t vm_id);

 private:
  void Migrate();
  // Backups (with their points) matching `where` (on `b` backups and `v`
  // vms), with `p1` as ?1 and `p2` as ?2 where they appear.
  std::vector<BackupRecord> QueryBackups(const std::string& where,
                                         const std::string& p1,
                                         const std::string& p2);
  sqlite::Database db_;
  std::function<bool(const std::string&)> owner_alive_;
};

}  // namespace sendense
