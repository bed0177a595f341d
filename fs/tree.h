#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/catalog/catalog.h"

namespace sendense::fs {

// One node of the tree. Nodes of a snapshot never change.
struct Node {
  enum class Kind { kDirectory, kRawDisk, kJson, kSymlink };
  uint64_t ino = 0;
  Kind kind = Kind::kDirectory;
  uint64_t size = 0;
  int64_t mtime = 0;       // seconds since the epoch
  bool immutable = false;  // inside a published point: cache forever
  std::string content;     // kJson: the bytes; kSymlink: the target
  std::string point_file;  // kRawDisk: QCOW2 file, relative to the repo
  std::map<std::string, uint64_t> children;  // kDirectory: name -> ino

  struct stat Stat() const;
};

// The whole tree at one moment, built from the catalog's complete backups:
//   /<vm>/latest -> <backup>
//   /<vm>/<backup>/backup.json
//   /<vm>/<backup>/disks/<disk>.raw
class TreeSnapshot {
 public:
  const Node* Find(uint64_t ino) const;
  const Node* Child(uint64_t parent, const std::string& name) const;
  size_t size() const { return nodes_.size(); }

 private:
  friend class Tree;
  std::unordered_map<uint64_t, Node> nodes_;
};

// Builds snapshots, keeping inode numbers stable across rebuilds: the same
// path always has the same inode, and an inode is never reused for another
// path. Thread-safe.
class Tree {
 public:
  static constexpr uint64_t kRootIno = 1;

  Tree();
  // Builds a snapshot from `backups` (any state; only complete ones show)
  // and makes it current. Returns true when it differs from the previous
  // one; `gone` receives (parent ino, name) of entries that disappeared.
  bool Update(const std::vector<BackupRecord>& backups,
              std::vector<std::pair<uint64_t, std::string>>* gone = nullptr);
  std::shared_ptr<const TreeSnapshot> Current() const;

 private:
  uint64_t InodeFor(const std::string& path);

  mutable std::mutex mutex_;
  std::shared_ptr<const TreeSnapshot> current_;
  std::unordered_map<std::string, uint64_t> inodes_;
  uint64_t next_ino_ = kRootIno + 1;
  std::string fingerprint_;
};

// "2026-11-24T09:00:00Z" -> seconds since the epoch (0 when malformed).
int64_t ParseIsoTime(const std::string& iso);
// The backup.json of a complete backup.
std::string BackupJson(const BackupRecord& backup);

}  // namespace sendense::fs
