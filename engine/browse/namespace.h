#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/browse/reader.h"
#include "engine/browse/tree.h"
#include "engine/guest/appliance_pool.h"
#include "engine/qcow2/chain_reader.h"
#include "engine/repo/catalog_pool.h"
#include "engine/repo/point_lease.h"
#include "engine/repo/repository.h"

namespace sendense::browse {

// A node's stable id: the tree's nodes (VMs, points, backup.json, disks,
// files/<fs>) below kGuestBase, guest entries at kGuestBase + their link
// id (one id for all names of a hard-linked file).
using NodeId = uint64_t;
constexpr NodeId kRootId = Tree::kRootIno;
constexpr NodeId kGuestBase = uint64_t{1} << 48;

// What stat says of a node, and how long it may be cached.
struct Attr {
  NodeId id = 0;
  uint32_t mode = 0;  // type and permission bits
  uint32_t nlink = 1;
  uint32_t uid = 0, gid = 0;
  uint64_t rdev = 0;
  uint64_t size = 0;
  int64_t atime_ns = 0, mtime_ns = 0, ctime_ns = 0;
  bool immutable = false;  // never changes: cache forever
  std::string target;      // a symlink's target
  // Guest regular files: read straight from the chain through an extent
  // map ("mapped") or through the appliance ("appliance"); "" otherwise.
  std::string read_path;
};

// How guest files were opened since the start.
struct GuestOpenCounts {
  uint64_t mapped = 0;
  uint64_t appliance = 0;
};

struct DirEntry {
  std::string name;
  Attr attr;
  uint64_t cookie = 0;  // List(dir, cookie) continues after this entry
};

struct Listing {
  std::vector<DirEntry> entries;
  bool more = false;  // entries follow the last one
};

// The one read-only namespace over a repository: VMs, points, backup.json,
// raw disks and guest files, by stable node id. The FUSE tree and the HTTP
// API translate to and from it and hold no browsing logic of their own.
// Errors are sendense::Error with the errno they mean (sys_errno) where it
// is not ENOENT. Thread-safe.
class Namespace {
 public:
  // `catalogs` and `appliances` must outlive it. Nothing is opened until
  // the first Refresh.
  Namespace(const Repository& repo,
            CatalogPool& catalogs,
            guest::AppliancePool& appliances);

  // Reloads the catalog's backups and guest filesystems (with the given
  // handles, or pooled ones). True when the tree changed; `gone` gets the
  // (parent, name) of entries that vanished.
  bool Refresh(Catalog& catalog,
               GuestIndex& index,
               std::vector<std::pair<NodeId, std::string>>* gone = nullptr);
  bool Refresh(std::vector<std::pair<NodeId, std::string>>* gone = nullptr);

  // Only `tenant`'s VMs, by their names within it (Tree::ShowOnlyTenant).
  void ShowOnlyTenant(const std::string& tenant) {
    tree_.ShowOnlyTenant(tenant);
  }

  // The current tree; a listing kept across calls uses one.
  std::shared_ptr<const TreeSnapshot> Current() const {
    return tree_.Current();
  }

  Attr Stat(NodeId id);
  // Whether `id` never changes (cached forever), from the tree alone: no
  // index query (FUSE asks it for every lookup's parent).
  bool Immutable(NodeId id) const;
  // The child `name` of folder `parent`; nullopt when there is none.
  std::optional<Attr> Lookup(NodeId parent, const std::string& name);
  // Up to `limit` entries of folder `dir` after `cookie` (0: the first),
  // from `snapshot` (the current tree when null).
  Listing List(NodeId dir,
               uint64_t cookie,
               size_t limit,
               const TreeSnapshot* snapshot = nullptr);
  std::string ReadLink(NodeId id);
  std::shared_ptr<Reader> Open(NodeId id);
  // The node at `segments` below the root (names, no "/"), with its
  // attributes; a miss in the tree's part refreshes once (a backup that
  // just completed).
  Attr Resolve(const std::vector<std::string>& segments);

  GuestOpenCounts guest_opens() const {
    return {opens_mapped_.load(), opens_appliance_.load()};
  }

 private:
  std::optional<GuestEntry> GuestGet(int64_t entry_id);
  int64_t GuestEntryOf(const TreeSnapshot& snap, NodeId id) const;
  std::shared_ptr<Reader> OpenGuestFile(const TreeSnapshot& snap,
                                        const GuestEntry& entry);
  // The mapped reader of `entry`, or null when its map is missing or
  // fails its checks (logged): then the appliance reads it.
  std::shared_ptr<Reader> OpenMapped(const BackupRecord& backup,
                                     const GuestEntry& entry,
                                     Leases& leases);
  // Logs a read that failed its digest and marks the point damaged.
  void RecordDamage(const qcow2::DigestMismatch& e);
  // A record (backup.json, domain.xml) the last refresh replaced with a new
  // node: the kernel may still name it until the refresher's invalidation
  // reaches it, so its old text is served rather than ENOENT.
  std::optional<Node> ReplacedRecord(NodeId id) const;

  const Repository& repo_;
  CatalogPool& catalogs_;
  guest::AppliancePool& appliances_;
  Tree tree_;
  class ChainCache;
  std::shared_ptr<ChainCache> chains_;
  // SENDENSE_GUEST_READS=appliance: never read through extent maps.
  bool use_maps_ = true;
  std::atomic<uint64_t> opens_mapped_{0}, opens_appliance_{0};
};

// A guest entry's attributes under node id `id`.
Attr GuestAttr(const GuestEntry& e, NodeId id);

}  // namespace sendense::browse
