#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/catalog/sqlite.h"

namespace sendense {

// One guest filesystem of one backup, as the index knows it.
struct GuestFilesystem {
  int64_t id = 0;
  int64_t backup_id = 0;
  std::string name;    // "sda1", "vg0-root": the folder under files/
  std::string device;  // the appliance's device, "/dev/sda1"
  std::string fstype;  // "ext4", "xfs", "vfat", "ntfs", "btrfs"
  std::string state;   // "indexed" or "failed"
  std::string error;
  int64_t files = 0;
  int64_t root_id = 0;  // the entry of "/" (0 when failed)
  // Regular files and their bytes; how many of them have an extent map
  // (read straight from the chain, not through the appliance).
  int64_t regular_files = 0, mapped_files = 0;
  int64_t file_bytes = 0, mapped_bytes = 0;
};

// One file, folder, link or node inside a guest filesystem. Names and
// paths are the guest's bytes (any byte but '/' and NUL).
struct GuestEntry {
  int64_t id = 0;
  int64_t fs_id = 0;
  int64_t parent = 0;  // 0 for the root
  std::string name;    // "" for the root
  std::string path;    // "/etc/hostname"; "/" for the root
  uint32_t mode = 0;   // with the file type bits
  uint32_t uid = 0, gid = 0;
  uint64_t size = 0, nlink = 1, ino = 0, rdev = 0;
  int64_t atime_ns = 0, mtime_ns = 0, ctime_ns = 0;
  int64_t link_id = 0;  // the first entry of the same inode (hard links)
  std::string target;   // symlinks: the target, untouched
  // Regular files: whether an extent map says where the data is on the
  // backup's disks (guest/extent_map.h). `extents`, its encoded form, is
  // only filled by the indexer; readers ask GuestIndex::Extents.
  bool mapped = false;
  std::string extents;
};

// What the indexer found in one filesystem: the root first, then every
// entry after its parent (`parent` is an index into `entries`).
struct IndexedFilesystem {
  GuestFilesystem fs;
  std::vector<GuestEntry> entries;
  std::vector<size_t> parent_index;  // per entry; ignored for the root
};

// A hit of a search or a version of a file across points.
struct GuestFileHit {
  std::string vm;
  std::string backup;
  std::string filesystem;
  GuestEntry entry;
};

// How indexing a backup last ended: the filesystems it found (0: the
// disks hold none the appliance can read), or the error that stopped it.
struct IndexRun {
  std::string finished_at;  // ISO 8601 UTC ("" for runs before schema 4)
  int64_t filesystems = 0;
  std::string error;  // "" when the run finished
};

// Deletes the guest filesystems and files indexed for `backup_id` (inside
// the caller's transaction).
void DeleteGuestFiles(sqlite::Database& db, int64_t backup_id);

// The guest file index in the catalog: written after a backup by the
// indexer, read by the tree, `find` and `history`. One connection of its
// own; not thread-safe (one GuestIndex per thread, or a lock around it).
class GuestIndex {
 public:
  explicit GuestIndex(const std::string& catalog_path);
  // A read-only snapshot opened on a full filesystem (sqlite::Database).
  bool snapshot() const { return db_.snapshot(); }

  // Replaces the index of `backup_id` with `filesystems`, atomically, and
  // records the run.
  void Replace(int64_t backup_id, std::vector<IndexedFilesystem>& filesystems);
  // Records that indexing `backup_id` failed (what it had stays).
  void RecordFailedRun(int64_t backup_id, const std::string& error);
  // The last run of `backup_id`, if it was ever indexed.
  std::optional<IndexRun> LastRun(int64_t backup_id);
  // The last run of every backup ever indexed, by backup id.
  std::map<int64_t, IndexRun> Runs();
  // Every filesystem of every backup (for the tree), or of one backup.
  std::vector<GuestFilesystem> Filesystems();
  std::vector<GuestFilesystem> Filesystems(int64_t backup_id);

  std::optional<GuestEntry> Get(int64_t id);
  // The encoded extent map of entry `id`; nullopt when it has none.
  std::optional<std::string> Extents(int64_t id);
  // Every entry of filesystem `fs_id` that is `path` or under it ("/":
  // all), by path (bytewise), with `extents` filled: what diff compares.
  std::vector<GuestEntry> EntriesUnder(int64_t fs_id, const std::string& path);
  std::optional<GuestEntry> Child(int64_t parent, const std::string& name);
  // Up to `limit` children of `parent` in name order (bytewise), after
  // child `after_id` (0: from the first).
  std::vector<GuestEntry> Children(int64_t parent,
                                   int64_t after_id,
                                   size_t limit);

  // Entries whose path matches the glob `pattern` (on the whole path when
  // it holds a '/', else on the name), in complete backups, of `vm` or all.
  std::vector<GuestFileHit> Find(const std::string& vm,
                                 const std::string& pattern,
                                 size_t limit);
  // `path` in every indexed point of `vm`, oldest first.
  std::vector<GuestFileHit> History(const std::string& vm,
                                    const std::string& path);

  // Copies the index of backup `source_id` in the catalog at
  // `source_catalog` to backup `target_id` of this one (`copy`: the same
  // disks, so the same files and extent maps), with its run.
  void CopyFrom(const std::string& source_catalog,
                int64_t source_id,
                int64_t target_id);
  // Gives backup `target_id` the index of backup `source_id` of this
  // catalog (a backup in which no block changed: the same files).
  void Reuse(int64_t source_id, int64_t target_id);

 private:
  // Copies the index rows of `source_id` in the attached `schema`.
  void CopyRows(const std::string& schema,
                int64_t source_id,
                int64_t target_id);

  sqlite::Database db_;
};

}  // namespace sendense
