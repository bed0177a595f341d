#include "engine/catalog/guest_diff.h"

#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "engine/catalog/file_history.h"
#include "engine/error.h"

namespace sendense {
namespace {

const BackupRecord& FindPoint(const std::vector<BackupRecord>& backups,
                              const std::string& vm,
                              const std::string& name) {
  for (const auto& b : backups) {
    if (b.name == name && b.state == BackupState::kComplete) {
      return b;
    }
  }
  throw Error(ErrorKind::kNotFound,
              vm + " has no complete point named '" + name + "'");
}

std::vector<GuestFilesystem> IndexedFilesystems(GuestIndex& index,
                                                const std::string& vm,
                                                const BackupRecord& b) {
  const auto run = index.LastRun(b.id);
  if (!run) {
    throw Error(ErrorKind::kInvalidArgument,
                "point " + b.name + " of " + vm +
                    " has no guest file index yet (sendense index --vm " + vm +
                    " --point " + b.name + ")");
  }
  return index.Filesystems(b.id);
}

// What differs between two versions of one path.
std::vector<std::string> Differences(const GuestEntry& a, const GuestEntry& b) {
  std::vector<std::string> what;
  const bool regular = (b.mode & S_IFMT) == S_IFREG;
  if ((a.mode & S_IFMT) != (b.mode & S_IFMT)) {
    what.push_back("type");
  }
  if (a.size != b.size && (b.mode & S_IFMT) != S_IFDIR) {
    what.push_back("size");
  }
  if (regular && (a.size != b.size || a.extents != b.extents ||
                  (a.extents.empty() && a.mtime_ns != b.mtime_ns))) {
    what.push_back("content");
  }
  if (a.mtime_ns != b.mtime_ns && (b.mode & S_IFMT) != S_IFDIR) {
    what.push_back("mtime");
  }
  if ((a.mode & 07777) != (b.mode & 07777)) {
    what.push_back("mode");
  }
  if (a.uid != b.uid || a.gid != b.gid) {
    what.push_back("owner");
  }
  if (a.target != b.target) {
    what.push_back("target");
  }
  return what;
}

bool Under(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

// The changes of one filesystem: a merge of the two sorted listings, then
// removed and added entries of one inode paired as renames.
void DiffFilesystem(const std::string& fs,
                    const std::vector<GuestEntry>& a,
                    const std::vector<GuestEntry>& b,
                    std::vector<GuestChange>& out) {
  std::vector<const GuestEntry*> removed, added;
  std::vector<GuestChange> changed;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    const int order = i == a.size()   ? 1
                      : j == b.size() ? -1
                                      : a[i].path.compare(b[j].path);
    if (order < 0) {
      removed.push_back(&a[i++]);
    } else if (order > 0) {
      added.push_back(&b[j++]);
    } else {
      auto what = Differences(a[i], b[j]);
      if (!what.empty() && b[j].path != "/") {
        changed.push_back({GuestChange::Kind::kChanged, fs, b[j].path, "",
                           b[j].mode, b[j].size, a[i].size, std::move(what),
                           b[j].id});
      }
      ++i;
      ++j;
    }
  }
  // Renames: the same inode and type, and its mtime or its extent map.
  std::unordered_multimap<uint64_t, const GuestEntry*> gone;
  for (const auto* e : removed) {
    gone.emplace(e->ino, e);
  }
  std::set<const GuestEntry*> paired;
  std::vector<GuestChange> renamed;
  std::vector<std::pair<std::string, std::string>> renamed_dirs;
  std::vector<const GuestEntry*> new_entries;
  for (const auto* e : added) {
    const GuestEntry* from = nullptr;
    const auto [lo, hi] = gone.equal_range(e->ino);
    for (auto it = lo; it != hi && from == nullptr; ++it) {
      const GuestEntry* c = it->second;
      if (!paired.contains(c) && (c->mode & S_IFMT) == (e->mode & S_IFMT) &&
          (c->mtime_ns == e->mtime_ns ||
           (!c->extents.empty() && c->extents == e->extents))) {
        from = c;
      }
    }
    if (from == nullptr) {
      new_entries.push_back(e);
      continue;
    }
    paired.insert(from);
    if ((e->mode & S_IFMT) == S_IFDIR) {
      renamed_dirs.emplace_back(from->path, e->path);
    }
    renamed.push_back({GuestChange::Kind::kRenamed, fs, e->path, from->path,
                       e->mode, e->size, from->size, Differences(*from, *e),
                       e->id});
  }
  // What moved with a renamed folder is not listed again.
  const auto moved_along = [&](const GuestChange& r) {
    for (const auto& [old_dir, new_dir] : renamed_dirs) {
      if (Under(r.from_path, old_dir) && Under(r.path, new_dir) &&
          r.from_path.substr(old_dir.size()) == r.path.substr(new_dir.size())) {
        return true;
      }
    }
    return false;
  };
  std::vector<GuestChange> all = std::move(changed);
  for (auto& r : renamed) {
    if (!moved_along(r)) {
      all.push_back(std::move(r));
    }
  }
  for (const auto* e : new_entries) {
    all.push_back({GuestChange::Kind::kAdded,
                   fs,
                   e->path,
                   "",
                   e->mode,
                   e->size,
                   0,
                   {},
                   e->id});
  }
  for (const auto* e : removed) {
    if (!paired.contains(e)) {
      all.push_back({GuestChange::Kind::kRemoved,
                     fs,
                     e->path,
                     "",
                     e->mode,
                     0,
                     e->size,
                     {}});
    }
  }
  std::sort(all.begin(), all.end(),
            [](const GuestChange& x, const GuestChange& y) {
              return x.path < y.path;
            });
  out.insert(out.end(), std::make_move_iterator(all.begin()),
             std::make_move_iterator(all.end()));
}

const char* KindName(GuestChange::Kind k) {
  switch (k) {
    case GuestChange::Kind::kAdded:
      return "added";
    case GuestChange::Kind::kRemoved:
      return "removed";
    case GuestChange::Kind::kRenamed:
      return "renamed";
    default:
      return "changed";
  }
}

}  // namespace

GuestDiff DiffGuestFiles(Catalog& catalog,
                         GuestIndex& index,
                         const std::string& vm,
                         const std::string& from,
                         const std::string& to,
                         const std::string& spec) {
  GuestDiff d;
  d.vm = vm;
  d.from = from;
  d.to = to;
  d.path = spec.empty() ? "/" : spec;
  if (const auto colon = d.path.find(':');
      colon != std::string::npos && d.path.find('/') > colon) {
    d.filesystem = d.path.substr(0, colon);
    d.path = d.path.substr(colon + 1);
  }
  if (d.path.empty() || d.path[0] != '/') {
    throw Error(ErrorKind::kInvalidArgument,
                "the path must be absolute inside the guest, e.g. /etc or "
                "sda1:/etc");
  }
  if (d.path.size() > 1 && d.path.back() == '/') {
    d.path.pop_back();
  }
  const auto backups = catalog.Backups(vm);
  const BackupRecord& a = FindPoint(backups, vm, from);
  const BackupRecord& b = FindPoint(backups, vm, to);
  std::map<std::string,
           std::pair<const GuestFilesystem*, const GuestFilesystem*>>
      by_name;
  const auto fa = IndexedFilesystems(index, vm, a);
  const auto fb = IndexedFilesystems(index, vm, b);
  for (const auto& f : fa) {
    by_name[f.name].first = &f;
  }
  for (const auto& f : fb) {
    by_name[f.name].second = &f;
  }
  for (const auto& [name, pair] : by_name) {
    if (!d.filesystem.empty() && name != d.filesystem) {
      continue;
    }
    const auto [x, y] = pair;
    GuestDiff::Filesystem f{name, "compared", ""};
    if (x == nullptr || y == nullptr) {
      f.state = x == nullptr ? "added" : "removed";
    } else if (x->state != "indexed" || y->state != "indexed") {
      f.state = "failed";
      f.error =
          x->state != "indexed" ? from + ": " + x->error : to + ": " + y->error;
    }
    d.filesystems.push_back(f);
    if (f.state == "failed") {
      continue;
    }
    const auto ea = x != nullptr && x->state == "indexed"
                        ? index.EntriesUnder(x->id, d.path)
                        : std::vector<GuestEntry>{};
    const auto eb = y != nullptr && y->state == "indexed"
                        ? index.EntriesUnder(y->id, d.path)
                        : std::vector<GuestEntry>{};
    d.from_files += ea.size();
    d.to_files += eb.size();
    DiffFilesystem(name, ea, eb, d.changes);
  }
  if (!d.filesystem.empty() && d.filesystems.empty()) {
    throw Error(ErrorKind::kNotFound,
                "neither point has a filesystem named '" + d.filesystem + "'");
  }
  for (const auto& c : d.changes) {
    switch (c.kind) {
      case GuestChange::Kind::kAdded:
        ++d.added;
        break;
      case GuestChange::Kind::kRemoved:
        ++d.removed;
        break;
      case GuestChange::Kind::kRenamed:
        ++d.renamed;
        break;
      default:
        ++d.changed;
    }
  }
  return d;
}

nlohmann::json GuestDiffJson(const GuestDiff& d, size_t limit) {
  nlohmann::json fss = nlohmann::json::array();
  for (const auto& f : d.filesystems) {
    fss.push_back({{"name", f.name},
                   {"state", f.state},
                   {"error", f.error.empty() ? nlohmann::json(nullptr)
                                             : nlohmann::json(f.error)}});
  }
  nlohmann::json changes = nlohmann::json::array();
  for (size_t i = 0; i < d.changes.size() && i < limit; ++i) {
    const auto& c = d.changes[i];
    const bool before = c.kind != GuestChange::Kind::kAdded;
    const bool after = c.kind != GuestChange::Kind::kRemoved;
    changes.push_back(
        {{"change", KindName(c.kind)},
         {"filesystem", c.filesystem},
         {"path", c.path},
         {"from_path", c.from_path.empty() ? nlohmann::json(nullptr)
                                           : nlohmann::json(c.from_path)},
         {"type", GuestTypeName(c.mode)},
         {"size", after ? nlohmann::json(c.size) : nlohmann::json(nullptr)},
         {"from_size",
          before ? nlohmann::json(c.from_size) : nlohmann::json(nullptr)},
         {"what", c.what}});
  }
  return {{"vm", d.vm},
          {"from", d.from},
          {"to", d.to},
          {"path", d.filesystem.empty() ? d.path : d.filesystem + ":" + d.path},
          {"filesystems", fss},
          {"summary",
           {{"added", d.added},
            {"removed", d.removed},
            {"changed", d.changed},
            {"renamed", d.renamed},
            {"from_files", d.from_files},
            {"to_files", d.to_files}}},
          {"changes", changes},
          {"truncated", d.changes.size() > limit}};
}

}  // namespace sendense
