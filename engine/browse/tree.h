#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/catalog/catalog.h"
#include "engine/catalog/guest_index.h"

namespace sendense::browse {

// One node of the tree. Nodes of a snapshot never change.
struct Node {
  // kGuestRoot: files/<fs>, a folder whose content is in the guest index.
  enum class Kind { kDirectory, kRawDisk, kJson, kSymlink, kGuestRoot };
  uint64_t ino = 0;
  Kind kind = Kind::kDirectory;
  uint64_t size = 0;
  int64_t mtime = 0;       // seconds since the epoch
  bool immutable = false;  // inside a published point: cache forever
  std::string content;     // kJson: the bytes; kSymlink: the target
  std::string point_file;  // kRawDisk: QCOW2 file, relative to the repo
  std::map<std::string, uint64_t> children;  // kDirectory: name -> ino
  int64_t backup_id = 0;                     // kGuestRoot: the backup
  int64_t guest_entry = 0;  // kGuestRoot: the index entry of "/"
  std::string guest_fs;     // kGuestRoot: "sda1"
};

// The whole tree at one moment, built from the catalog's complete backups:
//   /<vm>/latest -> <backup>
//   /<vm>/<backup>/backup.json
//   /<vm>/<backup>/domain.xml            (libvirt VMs: the domain then)
//   /<vm>/<backup>/disks/<disk>.raw
//   /<vm>/<backup>/files/<filesystem>    (indexed guest filesystems)
class TreeSnapshot {
 public:
  const Node* Find(uint64_t ino) const;
  const Node* Child(uint64_t parent, const std::string& name) const;
  size_t size() const { return nodes_.size(); }
  // A complete backup and its indexed filesystems, by backup id.
  const BackupRecord* Backup(int64_t id) const;
  const std::vector<GuestFilesystem>& Filesystems(int64_t backup_id) const;
  const std::unordered_map<int64_t, std::vector<GuestFilesystem>>&
  AllFilesystems() const {
    return filesystems_;
  }
  // The files/<fs> node of a backup; of guest filesystem `fs_id`.
  const Node* GuestRoot(int64_t backup_id, const std::string& fs) const;
  const Node* GuestRootOfFs(int64_t fs_id) const;

 private:
  friend class Tree;
  std::unordered_map<uint64_t, Node> nodes_;
  std::unordered_map<int64_t, BackupRecord> backups_;
  std::unordered_map<int64_t, std::vector<GuestFilesystem>> filesystems_;
  std::unordered_map<int64_t, uint64_t> guest_roots_;  // fs id -> ino
};

// Builds snapshots, keeping inode numbers stable across rebuilds: the same
// path always has the same inode, and an inode is never reused for another
// path. Thread-safe.
class Tree {
 public:
  static constexpr uint64_t kRootIno = 1;

  Tree();
  // Builds a snapshot from `backups` (any state; only complete ones show)
  // and the guest `filesystems` of the index, and makes it current.
  // Returns true when it differs from the previous one; `gone` receives
  // (parent ino, name) of entries that disappeared.
  // `runs`: the last index run of each backup, for backup.json.
  bool Update(const std::vector<BackupRecord>& backups,
              const std::vector<GuestFilesystem>& filesystems = {},
              const std::map<int64_t, IndexRun>& runs = {},
              std::vector<std::pair<uint64_t, std::string>>* gone = nullptr);
  std::shared_ptr<const TreeSnapshot> Current() const;
  // The snapshot the last Update replaced (nullptr before the first).
  std::shared_ptr<const TreeSnapshot> Previous() const;

  // Shows only the VMs of `tenant`, each under its name within the tenant
  // ("web1" for "web1@acme"): a tenant's own tree. Before the first Update.
  void ShowOnlyTenant(const std::string& tenant) { tenant_ = tenant; }

 private:
  uint64_t InodeFor(const std::string& path);

  std::string tenant_;  // "" for every VM, by its qualified name
  mutable std::mutex mutex_;
  std::shared_ptr<const TreeSnapshot> current_;
  std::shared_ptr<const TreeSnapshot> previous_;
  std::unordered_map<std::string, uint64_t> inodes_;
  uint64_t next_ino_ = kRootIno + 1;
  std::string fingerprint_;
};

// The backup.json of a complete backup (BackupJson with its guest index
// `run`).
std::string BackupJsonText(const BackupRecord& backup,
                           const std::optional<IndexRun>& run);

}  // namespace sendense::browse
