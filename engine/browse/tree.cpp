#include "engine/browse/tree.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "engine/catalog/names.h"
#include "engine/catalog/record_json.h"
#include "engine/time.h"

namespace sendense::browse {

const Node* TreeSnapshot::Find(uint64_t ino) const {
  auto it = nodes_.find(ino);
  return it == nodes_.end() ? nullptr : &it->second;
}

const BackupRecord* TreeSnapshot::Backup(int64_t id) const {
  auto it = backups_.find(id);
  return it == backups_.end() ? nullptr : &it->second;
}

const std::vector<GuestFilesystem>& TreeSnapshot::Filesystems(
    int64_t backup_id) const {
  static const std::vector<GuestFilesystem> none;
  auto it = filesystems_.find(backup_id);
  return it == filesystems_.end() ? none : it->second;
}

const Node* TreeSnapshot::GuestRootOfFs(int64_t fs_id) const {
  auto it = guest_roots_.find(fs_id);
  return it == guest_roots_.end() ? nullptr : Find(it->second);
}

const Node* TreeSnapshot::GuestRoot(int64_t backup_id,
                                    const std::string& fs) const {
  for (const auto& f : Filesystems(backup_id)) {
    if (f.name == fs) {
      auto it = guest_roots_.find(f.id);
      return it == guest_roots_.end() ? nullptr : Find(it->second);
    }
  }
  return nullptr;
}

const Node* TreeSnapshot::Child(uint64_t parent,
                                const std::string& name) const {
  const Node* p = Find(parent);
  if (p == nullptr || p->kind != Node::Kind::kDirectory) {
    return nullptr;
  }
  auto it = p->children.find(name);
  return it == p->children.end() ? nullptr : Find(it->second);
}

std::string BackupJsonText(const BackupRecord& b,
                           const std::optional<IndexRun>& run) {
  nlohmann::json j = BackupJson(b);
  j["guest_index"] = GuestIndexJson(run);
  return j.dump(2) + "\n";
}

Tree::Tree() {
  auto empty = std::make_shared<TreeSnapshot>();
  Node root;
  root.ino = kRootIno;
  empty->nodes_[kRootIno] = root;
  current_ = empty;
}

std::shared_ptr<const TreeSnapshot> Tree::Current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

std::shared_ptr<const TreeSnapshot> Tree::Previous() const {
  std::lock_guard lock(mutex_);
  return previous_;
}

uint64_t Tree::InodeFor(const std::string& path) {
  auto [it, inserted] = inodes_.emplace(path, next_ino_);
  if (inserted) {
    ++next_ino_;
  }
  return it->second;
}

namespace {

// What of a backup's record can change after it completed: a prune merging
// an older point into one of its points changes that point's parent, kind
// and size on disk.
std::string RecordVersion(const BackupRecord& b) {
  std::string v;
  for (const auto& p : b.points) {
    v += ":" + std::to_string(p.parent_id.value_or(0)) + "/" +
         KindName(p.kind) + "/" + std::to_string(p.bytes_stored);
  }
  return v;
}

}  // namespace

bool Tree::Update(const std::vector<BackupRecord>& backups,
                  const std::vector<GuestFilesystem>& filesystems,
                  const std::map<int64_t, IndexRun>& runs,
                  std::vector<std::pair<uint64_t, std::string>>* gone) {
  std::lock_guard lock(mutex_);
  std::string fingerprint;
  for (const auto& b : backups) {
    if (b.state == BackupState::kComplete) {
      fingerprint += std::to_string(b.id) + RecordVersion(b) + ",";
    }
  }
  fingerprint += ";";
  for (const auto& fs : filesystems) {
    fingerprint += std::to_string(fs.id) + ",";
  }
  fingerprint += ";";
  for (const auto& [id, run] : runs) {
    fingerprint += std::to_string(id) + "@" + run.finished_at + ",";
  }
  if (fingerprint == fingerprint_) {
    return false;
  }

  auto snap = std::make_shared<TreeSnapshot>();
  for (const auto& fs : filesystems) {
    if (fs.state == "indexed" && fs.root_id != 0) {
      snap->filesystems_[fs.backup_id].push_back(fs);
    }
  }
  auto& nodes = snap->nodes_;
  Node& root = nodes[kRootIno];
  root.ino = kRootIno;
  auto add = [&](uint64_t parent, const std::string& path,
                 const std::string& name, Node node) -> Node& {
    node.ino = InodeFor(path);
    nodes[parent].children[name] = node.ino;
    return nodes[node.ino] = std::move(node);
  };

  for (const auto& b : backups) {
    if (b.state != BackupState::kComplete ||
        (!tenant_.empty() && TenantOf(b.vm) != tenant_)) {
      continue;
    }
    const int64_t mtime = ParseIsoTime(b.finished_at);
    const std::string vm_name = tenant_.empty() ? b.vm : LocalName(b.vm);
    const std::string vm_path = "/" + vm_name;
    Node vm_dir;
    if (!root.children.count(vm_name)) {
      add(kRootIno, vm_path, vm_name, vm_dir);
    }
    const uint64_t vm_ino = root.children[vm_name];
    nodes[vm_ino].mtime = std::max(nodes[vm_ino].mtime, mtime);
    root.mtime = std::max(root.mtime, mtime);

    Node point_dir;
    point_dir.mtime = mtime;
    point_dir.immutable = true;
    const std::string point_path = vm_path + "/" + b.name;
    const uint64_t point_ino = add(vm_ino, point_path, b.name, point_dir).ino;

    Node json;
    json.kind = Node::Kind::kJson;
    const auto run = runs.find(b.id);
    json.content = BackupJsonText(
        b, run == runs.end() ? std::nullopt : std::optional(run->second));
    json.size = json.content.size();
    json.mtime = mtime;
    json.immutable = true;
    // A record a prune changed (a point merged into this one) is a new
    // node: the kernel's cache of the old text is dropped with it.
    add(point_ino, point_path + "/backup.json#" + RecordVersion(b),
        "backup.json", json);
    if (!b.domain_xml.empty()) {  // a libvirt VM's definition at the time
      Node xml = json;
      xml.content = b.domain_xml;
      xml.size = xml.content.size();
      add(point_ino, point_path + "/domain.xml", "domain.xml", xml);
    }

    Node disks;
    disks.mtime = mtime;
    disks.immutable = true;
    const uint64_t disks_ino =
        add(point_ino, point_path + "/disks", "disks", disks).ino;
    for (const auto& p : b.points) {
      Node raw;
      raw.kind = Node::Kind::kRawDisk;
      raw.size = p.virtual_size;
      raw.mtime = mtime;
      raw.immutable = true;
      raw.point_file = p.file;
      add(disks_ino, point_path + "/disks/" + p.disk + ".raw", p.disk + ".raw",
          raw);
    }

    // files/<fs>: live, since an index may come after the backup.
    snap->backups_[b.id] = b;
    Node files;
    files.mtime = mtime;
    const uint64_t files_ino =
        add(point_ino, point_path + "/files", "files", files).ino;
    for (const auto& fs : snap->Filesystems(b.id)) {
      Node guest;
      guest.kind = Node::Kind::kGuestRoot;
      guest.mtime = mtime;
      guest.immutable = true;
      guest.backup_id = b.id;
      guest.guest_entry = fs.root_id;
      guest.guest_fs = fs.name;
      // The index id in the path: a re-indexed filesystem is a new folder.
      snap->guest_roots_[fs.id] =
          add(files_ino,
              point_path + "/files/" + fs.name + "#" + std::to_string(fs.id),
              fs.name, guest)
              .ino;
    }

    // Backups come oldest first, so the last one seen is the newest.
    Node latest;
    latest.kind = Node::Kind::kSymlink;
    latest.content = b.name;
    latest.mtime = mtime;
    add(vm_ino, vm_path + "/latest", "latest", latest);
  }

  if (gone != nullptr) {
    // Only the topmost entry of a vanished subtree: the rest goes with it.
    for (const auto& [ino, old] : current_->nodes_) {
      const Node* now = snap->Find(ino);
      if (now == nullptr) {
        continue;
      }
      for (const auto& [name, child] : old.children) {
        const auto it = now->children.find(name);
        if (it == now->children.end() || it->second != child) {
          gone->emplace_back(ino, name);
        }
      }
    }
  }
  fingerprint_ = fingerprint;
  previous_ = std::move(current_);
  current_ = snap;
  return true;
}

}  // namespace sendense::browse
