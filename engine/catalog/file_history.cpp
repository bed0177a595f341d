#include "engine/catalog/file_history.h"

#include <sys/stat.h>

#include <map>
#include <set>
#include <utility>

#include "engine/error.h"
#include "engine/time.h"

namespace sendense {

const char* GuestTypeName(uint32_t mode) {
  switch (mode & S_IFMT) {
    case S_IFDIR:
      return "dir";
    case S_IFLNK:
      return "link";
    case S_IFREG:
      return "file";
    default:
      return "special";
  }
}

nlohmann::json GuestFileHitJson(const GuestFileHit& h) {
  return {{"vm", h.vm},
          {"backup", h.backup},
          {"filesystem", h.filesystem},
          {"path", h.entry.path},
          {"tree_path",
           h.vm + "/" + h.backup + "/files/" + h.filesystem + h.entry.path},
          {"type", GuestTypeName(h.entry.mode)},
          {"size", h.entry.size},
          {"mode", h.entry.mode & 07777},
          {"mtime", IsoTimeOfNs(h.entry.mtime_ns)}};
}

nlohmann::json FileHistory(Catalog& catalog,
                           GuestIndex& index,
                           const std::string& vm,
                           const std::string& spec) {
  std::string path = spec;
  std::string fs;
  if (const auto colon = path.find(':');
      colon != std::string::npos && path.find('/') > colon) {
    fs = path.substr(0, colon);
    path = path.substr(colon + 1);
  }
  if (path.empty() || path[0] != '/') {
    throw Error(ErrorKind::kInvalidArgument,
                "the path must be absolute inside the guest, e.g. /etc/motd");
  }
  // Versions by backup and filesystem, and which filesystems each backup
  // has indexed: a point that indexed the filesystem without the file
  // shows it deleted.
  std::map<std::pair<std::string, std::string>, GuestFileHit> found;
  std::set<std::string> filesystems;
  for (auto& h : index.History(vm, path)) {
    if (fs.empty() || h.filesystem == fs) {
      filesystems.insert(h.filesystem);
      found.emplace(std::pair(h.backup, h.filesystem), std::move(h));
    }
  }
  if (found.empty()) {
    throw Error(ErrorKind::kNotFound,
                "no indexed point of VM '" + vm + "' holds " + spec);
  }
  std::map<std::string, const GuestEntry*> previous;
  nlohmann::json out = nlohmann::json::array();
  for (const auto& b : catalog.Backups(vm)) {
    if (b.state != BackupState::kComplete) {
      continue;
    }
    std::set<std::string> indexed;
    for (const auto& f : index.Filesystems(b.id)) {
      if (f.state == "indexed") {
        indexed.insert(f.name);
      }
    }
    for (const auto& name : filesystems) {
      if (!indexed.count(name)) {
        continue;  // not indexed in this point: nothing to say
      }
      const GuestEntry*& before = previous[name];
      const auto it = found.find({b.name, name});
      if (it == found.end()) {
        if (before != nullptr) {
          before = nullptr;
          out.push_back({{"vm", vm},
                         {"backup", b.name},
                         {"filesystem", name},
                         {"path", path},
                         {"change", "deleted"},
                         {"changed", true}});
        }
        continue;
      }
      const GuestFileHit& h = it->second;
      const char* change = before == nullptr ? "new"
                           : before->size != h.entry.size ||
                                   before->mtime_ns != h.entry.mtime_ns ||
                                   before->mode != h.entry.mode
                               ? "changed"
                               : "same";
      before = &h.entry;
      auto row = GuestFileHitJson(h);
      row["change"] = change;
      row["changed"] = std::string(change) != "same";
      out.push_back(std::move(row));
    }
  }
  return out;
}

}  // namespace sendense
