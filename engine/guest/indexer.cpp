#include "engine/guest/indexer.h"

#include <guestfs.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <unordered_map>

#include "engine/error.h"
#include "engine/guest/change_check.h"
#include "engine/guest/extent_mapper.h"
#include "engine/log.h"
#include "engine/repo/known_vms.h"
#include "engine/repo/repository_key.h"

namespace sendense::guest {
namespace {

constexpr size_t kNamesPerCall = 1000;

std::vector<std::string> Find0(Appliance& app, const std::string& dir) {
  char tmp[] = "/var/tmp/sendense-find0-XXXXXX";
  const int fd = ::mkstemp(tmp);
  if (fd < 0) {
    throw Error(ErrorKind::kIo, "cannot create a temporary file in /var/tmp");
  }
  ::close(fd);
  const int rc = guestfs_find0(app.handle(), dir.c_str(), tmp);
  std::ifstream in(tmp, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)),
                  std::istreambuf_iterator<char>());
  ::unlink(tmp);
  if (rc != 0) {
    throw Error(ErrorKind::kIo, "listing " + dir + ": " + app.LastError());
  }
  std::vector<std::string> names;
  size_t start = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i] == '\0') {
      // Relative to `dir`; this libguestfs puts a '/' in front.
      const size_t from = start < i && all[start] == '/' ? start + 1 : start;
      if (i > from) {
        names.push_back(all.substr(from, i - from));
      }
      start = i + 1;
    }
  }
  return names;
}

void Fill(GuestEntry& e, const struct guestfs_statns& st) {
  e.mode = static_cast<uint32_t>(st.st_mode);
  e.uid = static_cast<uint32_t>(st.st_uid);
  e.gid = static_cast<uint32_t>(st.st_gid);
  e.size = static_cast<uint64_t>(st.st_size);
  e.nlink = static_cast<uint64_t>(st.st_nlink);
  e.ino = static_cast<uint64_t>(st.st_ino);
  e.rdev = static_cast<uint64_t>(st.st_rdev);
  e.atime_ns = st.st_atime_sec * 1000000000 + st.st_atime_nsec;
  e.mtime_ns = st.st_mtime_sec * 1000000000 + st.st_mtime_nsec;
  e.ctime_ns = st.st_ctime_sec * 1000000000 + st.st_ctime_nsec;
}

// Stats (and reads the links of) `members` of the folder `dir`.
void StatGroup(Appliance& app,
               const std::string& dir,
               const std::vector<size_t>& members,
               std::vector<GuestEntry>& entries) {
  for (size_t first = 0; first < members.size(); first += kNamesPerCall) {
    const size_t n = std::min(kNamesPerCall, members.size() - first);
    std::vector<char*> names;
    for (size_t i = 0; i < n; ++i) {
      names.push_back(entries[members[first + i]].name.data());
    }
    names.push_back(nullptr);
    guestfs_statns_list* stats =
        guestfs_lstatnslist(app.handle(), dir.c_str(), names.data());
    if (stats == nullptr || stats->len != n) {
      if (stats != nullptr) {
        guestfs_free_statns_list(stats);
      }
      throw Error(ErrorKind::kIo, "stat in " + dir + ": " + app.LastError());
    }
    std::vector<char*> links;
    std::vector<size_t> link_members;
    for (size_t i = 0; i < n; ++i) {
      GuestEntry& e = entries[members[first + i]];
      Fill(e, stats->val[i]);
      if ((e.mode & S_IFMT) == S_IFLNK) {
        links.push_back(e.name.data());
        link_members.push_back(members[first + i]);
      }
    }
    guestfs_free_statns_list(stats);
    if (links.empty()) {
      continue;
    }
    links.push_back(nullptr);
    char** targets =
        guestfs_readlinklist(app.handle(), dir.c_str(), links.data());
    if (targets == nullptr) {
      throw Error(ErrorKind::kIo, "links in " + dir + ": " + app.LastError());
    }
    for (size_t i = 0; targets[i] != nullptr; ++i) {
      if (i < link_members.size()) {
        entries[link_members[i]].target = targets[i];
      }
      std::free(targets[i]);
    }
    std::free(targets);
  }
}

}  // namespace

std::vector<Drive> DrivesOf(const Repository& repo,
                            const BackupRecord& backup) {
  std::vector<Drive> drives;
  for (const auto& p : backup.points) {
    drives.push_back({repo.Absolute(p.file), p.disk, p.virtual_size});
  }
  std::sort(drives.begin(), drives.end(),
            [](const Drive& a, const Drive& b) { return a.disk < b.disk; });
  return drives;
}

std::vector<Drive> ApplianceDrives(const Repository& repo,
                                   const BackupRecord& backup) {
  auto drives = DrivesOf(repo, backup);
  for (const auto& p : backup.points) {
    if (p.encrypted) {
      const RepositoryKey key = LoadKey(repo, backup.vm);
      const std::string passphrase = RequireKey(key);
      for (auto& d : drives) {
        d.luks_passphrase = passphrase;
        d.key_file = key.file;
      }
      break;
    }
  }
  return drives;
}

IndexedFilesystem WalkFilesystem(Appliance& app,
                                 const std::string& mountpoint,
                                 std::atomic<uint64_t>* entries) {
  std::lock_guard lock(app.mutex());
  IndexedFilesystem out;
  GuestEntry root;
  root.path = "/";
  struct guestfs_statns* st = guestfs_lstatns(app.handle(), mountpoint.c_str());
  if (st == nullptr) {
    throw Error(ErrorKind::kIo, "stat " + mountpoint + ": " + app.LastError());
  }
  Fill(root, *st);
  guestfs_free_statns(st);
  out.entries.push_back(std::move(root));
  out.parent_index.push_back(0);
  if (entries != nullptr) {
    *entries += 1;  // the root counts, as in the summary's entries
  }

  const std::vector<std::string> paths = Find0(app, mountpoint);
  std::unordered_map<std::string, size_t> index_of{{"", 0}};
  index_of.reserve(paths.size() + 1);
  for (size_t i = 0; i < paths.size(); ++i) {
    index_of.emplace(paths[i], i + 1);
  }
  // Entries in find's order (a folder before what it holds), grouped by
  // their folder for the stat calls.
  std::vector<std::vector<size_t>> members(paths.size() + 1);
  for (const auto& rel : paths) {
    const size_t slash = rel.rfind('/');
    const std::string parent =
        slash == std::string::npos ? "" : rel.substr(0, slash);
    auto p = index_of.find(parent);
    if (p == index_of.end()) {
      p = index_of.find("");  // cannot happen with find's output
    }
    GuestEntry e;
    e.name = slash == std::string::npos ? rel : rel.substr(slash + 1);
    e.path = "/" + rel;
    members[p->second].push_back(out.entries.size());
    out.parent_index.push_back(p->second);
    out.entries.push_back(std::move(e));
  }
  for (size_t dir = 0; dir < members.size(); ++dir) {
    if (!members[dir].empty()) {
      const std::string& rel = dir == 0 ? std::string() : paths[dir - 1];
      StatGroup(app, rel.empty() ? mountpoint : mountpoint + "/" + rel,
                members[dir], out.entries);
      if (entries != nullptr) {
        *entries += members[dir].size();
      }
    }
  }
  return out;
}

namespace {

std::vector<IndexedFilesystem> IndexInAppliance(
    const Repository& repo,
    const BackupRecord& backup,
    std::atomic<uint64_t>* entries) {
  const auto drives = ApplianceDrives(repo, backup);
  Appliance app(drives);
  const auto found = app.Filesystems();
  const auto errors = app.MountAll(found);
  std::vector<IndexedFilesystem> indexed;
  for (size_t i = 0; i < found.size(); ++i) {
    IndexedFilesystem fs;
    if (errors[i].empty()) {
      try {
        fs = WalkFilesystem(app, "/" + found[i].name, entries);
        fs.fs.state = "indexed";
      } catch (const Error& e) {
        fs = {};
        fs.fs.state = "failed";
        fs.fs.error = e.what();
      }
    } else {
      fs.fs.state = "failed";
      fs.fs.error = errors[i];
    }
    fs.fs.name = found[i].name;
    fs.fs.device = found[i].device;
    fs.fs.fstype = found[i].fstype;
    indexed.push_back(std::move(fs));
  }
  std::vector<uint64_t> disk_sizes;
  for (const auto& d : drives) {
    disk_sizes.push_back(d.size);
  }
  MapFiles(app, disk_sizes, indexed);
  return indexed;
}

// The point against the one before it; a point that looks like a mass
// encryption is said in the log. Never fails the indexing.
void CheckForSuspiciousChange(const Repository& repo,
                              const BackupRecord& backup) {
  try {
    const auto report = CheckChange(repo, backup);
    if (report && report->suspicious) {
      std::string why;
      for (const auto& r : report->reasons) {
        why += (why.empty() ? "" : "; ") + r;
      }
      Log(LogLevel::kWarning, backup.vm + " " + backup.name +
                                  " is suspicious (a mass encryption?): " +
                                  why + ". Review it (sendense review --vm " +
                                  backup.vm + " " + backup.name + ")");
    }
  } catch (const std::exception& e) {
    Log(LogLevel::kWarning,
        backup.vm + " " + backup.name +
            ": the check for suspicious change failed: " + e.what());
  }
}

}  // namespace

std::optional<int64_t> UnchangedSince(const Repository& repo,
                                      const BackupRecord& backup) {
  if (backup.points.empty()) {
    return std::nullopt;
  }
  auto catalog = repo.OpenCatalog();
  std::optional<int64_t> before;
  for (const auto& p : backup.points) {
    if (p.kind != PointKind::kIncremental || p.bytes_read != 0 ||
        !p.parent_id) {
      return std::nullopt;
    }
    const auto parent = catalog->FindPoint(*p.parent_id);
    if (!parent || parent->disk != p.disk ||
        (before && *before != parent->backup_id)) {
      return std::nullopt;
    }
    before = parent->backup_id;
  }
  for (const auto& b : catalog->Backups(backup.vm)) {
    if (b.id == *before) {
      const auto run = GuestIndex(repo.CatalogPath()).LastRun(b.id);
      if (b.points.size() == backup.points.size() && run &&
          run->error.empty()) {
        return before;
      }
    }
  }
  return std::nullopt;
}

std::vector<GuestFilesystem> IndexBackup(const Repository& repo,
                                         const BackupRecord& backup,
                                         std::atomic<uint64_t>* entries) {
  if (const auto before = UnchangedSince(repo, backup)) {
    GuestIndex index(repo.CatalogPath());
    index.Reuse(*before, backup.id);
    auto reused = index.Filesystems(backup.id);
    for (const auto& fs : reused) {
      if (entries != nullptr) {
        *entries += static_cast<uint64_t>(fs.files);
      }
    }
    return reused;
  }
  std::vector<IndexedFilesystem> indexed;
  try {
    indexed = IndexInAppliance(repo, backup, entries);
  } catch (const std::exception& e) {
    try {
      GuestIndex(repo.CatalogPath()).RecordFailedRun(backup.id, e.what());
    } catch (...) {
      // The run stays unrecorded: the next `index` tries it again.
    }
    throw;
  }
  GuestIndex index(repo.CatalogPath());
  index.Replace(backup.id, indexed);
  CheckForSuspiciousChange(repo, backup);
  std::vector<GuestFilesystem> out;
  for (const auto& fs : indexed) {
    out.push_back(fs.fs);
  }
  return out;
}

IndexPlan PlanIndexing(const Repository& repo,
                       const std::string& vm,
                       const std::string& point,
                       bool retry) {
  if (!point.empty() && vm.empty()) {
    throw Error(ErrorKind::kInvalidArgument, "a point needs its VM");
  }
  RequireKnownVm(repo, vm);
  auto catalog = repo.OpenCatalog();
  GuestIndex index(repo.CatalogPath());
  IndexPlan plan;
  for (const auto& b : catalog->Backups(vm)) {
    if (b.state != BackupState::kComplete) {
      continue;
    }
    if (!point.empty()) {
      if (b.name == point) {
        plan.todo.push_back(b);
      }
      continue;
    }
    const auto run = index.LastRun(b.id);
    const bool found_nothing =
        run && (run->filesystems == 0 || !run->error.empty());
    if (!run || (retry && found_nothing)) {
      plan.todo.push_back(b);
    } else if (found_nothing) {
      ++plan.skipped;
    }
  }
  if (!point.empty() && plan.todo.empty()) {
    throw Error(ErrorKind::kNotFound,
                "VM '" + vm + "' has no complete point named '" + point + "'");
  }
  return plan;
}

}  // namespace sendense::guest
