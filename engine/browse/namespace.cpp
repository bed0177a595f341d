#include "engine/browse/namespace.h"
#include "engine/repo/repository_key.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <unordered_map>

#include "engine/browse/mapped_file_reader.h"
#include "engine/browse/readers.h"
#include "engine/error.h"
#include "engine/guest/indexer.h"
#include "engine/log.h"
#include "engine/repo/damage_record.h"
#include "engine/repo/point_lease.h"
#include "engine/time.h"

namespace sendense::browse {

// Opened chains shared by every open file of the same point; a chain is
// closed when its last reader is.
class Namespace::ChainCache {
 public:
  // Encrypted points open with their VM's key, read once per VM ("":
  // locked, their reads fail with EACCES and the log says why).
  explicit ChainCache(const Repository& repo) : repo_(repo) {}

  std::shared_ptr<const qcow2::ChainReader> Open(const std::string& path,
                                                 const std::string& vm) {
    std::lock_guard lock(mutex_);
    if (auto existing = open_[path].lock()) {
      return existing;
    }
    auto key = keys_.find(vm);
    if (key == keys_.end()) {
      key = keys_.emplace(vm, LoadKey(repo_, vm)).first;
    }
    qcow2::ChainReader::Options options;
    options.check_digests = true;  // the tree never serves a wrong byte
    options.luks_passphrase = key->second.passphrase;
    std::shared_ptr<const qcow2::ChainReader> reader;
    try {
      reader = qcow2::ChainReader::Open(path, options);
    } catch (const Error& e) {
      // Another key than the one read at first (key set or key add --use
      // since): read the VM's key again, once.
      RepositoryKey now = LoadKey(repo_, vm);
      if (e.kind() != ErrorKind::kDenied ||
          now.passphrase == key->second.passphrase) {
        throw;
      }
      key->second = std::move(now);
      options.luks_passphrase = key->second.passphrase;
      reader = qcow2::ChainReader::Open(path, options);
    }
    for (size_t i = 0; i < reader->depth() && options.luks_passphrase.empty();
         ++i) {
      if (reader->layer(i).encrypted()) {
        Log(LogLevel::kWarning,
            path + " is encrypted and the key of " +
                key->second.scope.Describe() + " is missing (" +
                key->second.problem +
                "): its disk and guest files read as permission denied "
                "(EACCES)");
        break;
      }
    }
    open_[path] = reader;
    return reader;
  }

 private:
  const Repository& repo_;
  std::mutex mutex_;
  std::unordered_map<std::string, RepositoryKey> keys_;  // by VM
  std::unordered_map<std::string, std::weak_ptr<const qcow2::ChainReader>>
      open_;
};

namespace {

[[noreturn]] void Fail(int err, const std::string& what) {
  throw Error(
      err == ENOENT ? ErrorKind::kNotFound : ErrorKind::kInvalidArgument, what,
      err);
}

Attr NodeAttr(const Node& n) {
  Attr a;
  a.id = n.ino;
  a.mtime_ns = a.ctime_ns = a.atime_ns = n.mtime * 1000000000;
  a.immutable = n.immutable;
  switch (n.kind) {
    case Node::Kind::kDirectory:
    case Node::Kind::kGuestRoot:
      a.mode = S_IFDIR | 0555;
      a.nlink = 2;
      break;
    case Node::Kind::kSymlink:
      a.mode = S_IFLNK | 0777;
      a.size = n.content.size();
      a.target = n.content;
      break;
    default:
      a.mode = S_IFREG | 0444;
      a.size = n.size;
  }
  return a;
}

bool IsDir(uint32_t mode) {
  return (mode & S_IFMT) == S_IFDIR;
}

}  // namespace

Attr GuestAttr(const GuestEntry& e, NodeId id) {
  Attr a;
  a.id = id;
  a.mode = e.mode;
  // A folder counts at least itself and its "." (Samba and find rely on
  // it); some guest filesystems report 1.
  a.nlink = static_cast<uint32_t>(IsDir(e.mode) ? std::max<uint64_t>(e.nlink, 2)
                                                : e.nlink);
  a.uid = e.uid;
  a.gid = e.gid;
  a.rdev = e.rdev;
  a.size = e.size;
  a.atime_ns = e.atime_ns;
  a.mtime_ns = e.mtime_ns;
  a.ctime_ns = e.ctime_ns;
  a.immutable = true;  // an index never changes
  a.target = e.target;
  if ((e.mode & S_IFMT) == S_IFREG) {
    a.read_path = e.mapped ? "mapped" : "appliance";
  }
  return a;
}

Namespace::Namespace(const Repository& repo,
                     CatalogPool& catalogs,
                     guest::AppliancePool& appliances)
    : repo_(repo),
      catalogs_(catalogs),
      appliances_(appliances),
      chains_(std::make_shared<ChainCache>(repo)) {
  const char* reads = std::getenv("SENDENSE_GUEST_READS");
  use_maps_ = reads == nullptr || std::string(reads) != "appliance";
}

bool Namespace::Refresh(Catalog& catalog,
                        GuestIndex& index,
                        std::vector<std::pair<NodeId, std::string>>* gone) {
  return tree_.Update(catalog.Backups(""), index.Filesystems(), index.Runs(),
                      gone);
}

bool Namespace::Refresh(std::vector<std::pair<NodeId, std::string>>* gone) {
  auto db = catalogs_.Acquire();
  return Refresh(*db->catalog, *db->index, gone);
}

std::optional<GuestEntry> Namespace::GuestGet(int64_t entry_id) {
  return catalogs_.Acquire()->index->Get(entry_id);
}

// The guest index entry behind `id`: a guest node, or a files/<fs> folder
// (whose id is the tree's). 0 when `id` is neither.
int64_t Namespace::GuestEntryOf(const TreeSnapshot& snap, NodeId id) const {
  if (id >= kGuestBase) {
    return static_cast<int64_t>(id - kGuestBase);
  }
  const Node* n = snap.Find(id);
  return n != nullptr && n->kind == Node::Kind::kGuestRoot ? n->guest_entry : 0;
}

Attr Namespace::Stat(NodeId id) {
  const auto snap = tree_.Current();
  if (const int64_t entry_id = GuestEntryOf(*snap, id)) {
    const auto entry = GuestGet(entry_id);
    if (!entry) {
      Fail(ENOENT, "no such guest entry");
    }
    return GuestAttr(*entry, id);
  }
  const Node* n = snap->Find(id);
  if (n == nullptr) {
    if (const auto record = ReplacedRecord(id)) {
      return NodeAttr(*record);
    }
    Fail(ENOENT, "no such node");
  }
  return NodeAttr(*n);
}

std::optional<Node> Namespace::ReplacedRecord(NodeId id) const {
  const auto previous = tree_.Previous();
  const Node* n = previous != nullptr ? previous->Find(id) : nullptr;
  if (n == nullptr || n->kind != Node::Kind::kJson) {
    return std::nullopt;  // never a dropped point's disk
  }
  return *n;
}

bool Namespace::Immutable(NodeId id) const {
  if (id >= kGuestBase) {
    return true;  // an index never changes
  }
  const auto snap = tree_.Current();
  const Node* n = snap->Find(id);
  return n != nullptr && n->immutable;
}

std::optional<Attr> Namespace::Lookup(NodeId parent, const std::string& name) {
  const auto snap = tree_.Current();
  if (const int64_t dir = GuestEntryOf(*snap, parent)) {
    const auto entry = catalogs_.Acquire()->index->Child(dir, name);
    if (!entry) {
      return std::nullopt;
    }
    return GuestAttr(*entry,
                     kGuestBase + static_cast<uint64_t>(entry->link_id));
  }
  if (snap->Find(parent) == nullptr) {
    Fail(ENOENT, "no such folder");
  }
  const Node* n = snap->Child(parent, name);
  if (n == nullptr) {
    return std::nullopt;
  }
  if (n->kind == Node::Kind::kGuestRoot) {
    return Stat(n->ino);  // the guest filesystem's root
  }
  return NodeAttr(*n);
}

Listing Namespace::List(NodeId dir,
                        uint64_t cookie,
                        size_t limit,
                        const TreeSnapshot* snapshot) {
  std::shared_ptr<const TreeSnapshot> current;
  if (snapshot == nullptr) {
    current = tree_.Current();
    snapshot = current.get();
  }
  Listing out;
  if (const int64_t id = GuestEntryOf(*snapshot, dir)) {
    auto db = catalogs_.Acquire();
    const auto self = db->index->Get(id);
    if (!self) {
      Fail(ENOENT, "no such guest folder");
    }
    if (!IsDir(self->mode)) {
      Fail(ENOTDIR, "not a folder");
    }
    // One more than asked for tells whether another page follows.
    auto page =
        db->index->Children(id, static_cast<int64_t>(cookie), limit + 1);
    out.more = page.size() > limit;
    page.resize(std::min(page.size(), limit));
    out.entries.reserve(page.size());
    for (auto& e : page) {
      const NodeId child = kGuestBase + static_cast<uint64_t>(e.link_id);
      out.entries.push_back({std::move(e.name), GuestAttr(e, child),
                             static_cast<uint64_t>(e.id)});
    }
    return out;
  }
  const Node* n = snapshot->Find(dir);
  if (n == nullptr) {
    Fail(ENOENT, "no such folder");
  }
  if (n->kind != Node::Kind::kDirectory) {
    Fail(ENOTDIR, "not a folder");
  }
  // Tree folders are small: the cookie is a position in name order.
  uint64_t position = 0;
  for (const auto& [name, child_id] : n->children) {
    if (++position <= cookie) {
      continue;
    }
    if (out.entries.size() == limit) {
      out.more = true;
      break;
    }
    const Node* child = snapshot->Find(child_id);
    if (child == nullptr) {
      continue;
    }
    Attr attr = NodeAttr(*child);
    if (child->kind == Node::Kind::kGuestRoot) {
      if (const auto root = GuestGet(child->guest_entry)) {
        attr = GuestAttr(*root, child->ino);
      }
    }
    out.entries.push_back({name, std::move(attr), position});
  }
  return out;
}

std::string Namespace::ReadLink(NodeId id) {
  const Attr a = Stat(id);
  if ((a.mode & S_IFMT) != S_IFLNK) {
    Fail(EINVAL, "not a symlink");
  }
  return a.target;
}

std::shared_ptr<Reader> Namespace::OpenGuestFile(const TreeSnapshot& snap,
                                                 const GuestEntry& entry) {
  const Node* root = snap.GuestRootOfFs(entry.fs_id);
  const BackupRecord* backup =
      root != nullptr ? snap.Backup(root->backup_id) : nullptr;
  if (backup == nullptr) {
    Fail(ENOENT, "the backup of this file is gone");
  }
  std::vector<guest::FoundFilesystem> fss;
  for (const auto& fs : snap.Filesystems(root->backup_id)) {
    fss.push_back({fs.device, fs.fstype, fs.name});
  }
  Leases leases;
  for (const auto& p : backup->points) {
    leases.push_back(std::make_unique<PointLease>(
        repo_.Absolute(p.file), PointLease::Mode::kShared, kLeaseWait));
  }
  if (entry.mapped && use_maps_) {
    if (auto mapped = OpenMapped(*backup, entry, leases)) {
      ++opens_mapped_;
      return mapped;
    }
  }
  ++opens_appliance_;
  return MakeGuestFileReader(std::move(leases), repo_, appliances_, *backup,
                             std::move(fss), "/" + root->guest_fs + entry.path,
                             entry.size);
}

std::shared_ptr<Reader> Namespace::OpenMapped(const BackupRecord& backup,
                                              const GuestEntry& entry,
                                              Leases& leases) {
  const auto bytes = catalogs_.Acquire()->index->Extents(entry.id);
  auto map = bytes ? guest::DecodeMap(*bytes) : std::nullopt;
  const auto drives = guest::DrivesOf(repo_, backup);
  std::vector<uint64_t> sizes;
  for (const auto& d : drives) {
    sizes.push_back(d.size);
  }
  std::string why = !map ? "its extent map is unreadable"
                         : guest::CheckMap(*map, entry.size, sizes);
  if (!why.empty()) {
    Log(LogLevel::kWarning, "guest file " + entry.path + " of " + backup.vm +
                                " " + backup.name + ": " + why +
                                "; read through the appliance");
    return nullptr;
  }
  std::vector<std::shared_ptr<const qcow2::ChainReader>> disks;
  for (const auto& d : drives) {
    disks.push_back(chains_->Open(d.path, backup.vm));
  }
  return std::make_shared<MappedFileReader>(
      std::move(leases), std::move(disks), std::move(*map), entry.size,
      [this](const qcow2::DigestMismatch& e) { RecordDamage(e); });
}

void Namespace::RecordDamage(const qcow2::DigestMismatch& e) {
  try {
    auto db = catalogs_.Acquire();
    RecordReadDamage(repo_, *db->catalog, e);
  } catch (const std::exception& failed) {
    Log(LogLevel::kError,
        std::string(e.what()) + "; cannot record the damage: " + failed.what());
  }
}

std::shared_ptr<Reader> Namespace::Open(NodeId id) {
  const auto snap = tree_.Current();
  if (const int64_t entry_id = GuestEntryOf(*snap, id)) {
    const auto entry = GuestGet(entry_id);
    if (!entry) {
      Fail(ENOENT, "no such guest entry");
    }
    if (IsDir(entry->mode)) {
      Fail(EISDIR, "a folder has no content to read");
    }
    if ((entry->mode & S_IFMT) != S_IFREG) {
      // Devices, sockets, fifos: shown, never opened.
      Fail(EACCES, "only regular files can be read");
    }
    return OpenGuestFile(*snap, *entry);
  }
  const Node* n = snap->Find(id);
  if (n == nullptr) {
    if (const auto record = ReplacedRecord(id)) {
      return MakeContentReader(record->content);
    }
    Fail(ENOENT, "no such node");
  }
  switch (n->kind) {
    case Node::Kind::kRawDisk:
      try {
        const std::string path = repo_.Absolute(n->point_file);
        Leases leases;
        leases.push_back(std::make_unique<PointLease>(
            path, PointLease::Mode::kShared, kLeaseWait));
        return MakeDiskReader(
            std::move(leases),
            chains_->Open(path, Repository::VmOfPointFile(n->point_file)),
            n->size,
            [this](const qcow2::DigestMismatch& e) { RecordDamage(e); });
      } catch (const Error& e) {
        // The node exists; what it is stored in does not: an I/O error.
        if (e.kind() != ErrorKind::kNotFound) {
          throw;
        }
        throw Error(ErrorKind::kIo,
                    "cannot open " + n->point_file + ": " + e.what(), EIO);
      }
    case Node::Kind::kJson:
      return MakeContentReader(n->content);
    case Node::Kind::kSymlink:
      Fail(EINVAL, "a symlink is read with readlink");
    default:
      Fail(EISDIR, "a folder has no content to read");
  }
}

Attr Namespace::Resolve(const std::vector<std::string>& segments) {
  for (int attempt = 0;; ++attempt) {
    if (segments.empty()) {
      return Stat(kRootId);
    }
    NodeId id = kRootId;
    Attr found;
    std::string walked;
    size_t i = 0;
    for (; i < segments.size(); ++i) {
      const auto child = Lookup(id, segments[i]);
      if (!child) {
        break;
      }
      walked += "/" + segments[i];
      if (!IsDir(child->mode) && i + 1 < segments.size()) {
        Fail(ENOTDIR, walked + " is not a folder");
      }
      id = child->id;
      found = *child;
    }
    if (i == segments.size()) {
      return found;
    }
    // A miss above the guest files may be a backup that completed since
    // the last refresh: look once more.
    if (attempt > 0 || GuestEntryOf(*tree_.Current(), id) != 0) {
      Fail(ENOENT, "nothing at " + walked + "/" + segments[i]);
    }
    Refresh();
  }
}

}  // namespace sendense::browse
