#include "fs/mount.h"

#include <spawn.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <sstream>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <thread>

#include "engine/error.h"
#include "engine/log.h"
#include "engine/periodic.h"
#include "fs/fs_context.h"
#include "fs/fuse_ops.h"

namespace sendense::fs {
namespace {

// The device ("0:52") of the Sendense tree mounted at `real` (a resolved
// path; the last one there), or "" when there is none. From
// /proc/self/mountinfo: a stat() of the mount point would wait for this
// very process.
std::string SendenseMountDevice(const std::string& real) {
  std::ifstream mounts("/proc/self/mountinfo");
  std::string line, device;
  while (std::getline(mounts, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    if (point == real && line.find(" - fuse.sendense ") != std::string::npos) {
      device = dev;
    }
  }
  return device;
}

// The kernel's read-ahead for this mount (128 KiB by default) caps cached
// reads; raise it. The device number comes from /proc/self/mountinfo: a
// stat() of the mount point would wait for this very process.
void RaiseReadAhead(const std::string& mountpoint, unsigned kb) {
  char real[PATH_MAX];
  if (::realpath(mountpoint.c_str(), real) == nullptr) {
    return;
  }
  const std::string device = SendenseMountDevice(real);
  const std::string path = "/sys/class/bdi/" + device + "/read_ahead_kb";
  std::ofstream out(path);
  out << kb;
  out.flush();
  if (device.empty() || !out) {
    Log(LogLevel::kWarning, "could not raise read-ahead (" + path +
                                "); reads stay at the kernel's default");
  }
}

// A mount whose daemon died (kill -9, a crash) answers ENOTCONN; it is
// detached so that a new mount can take its place.
void DetachDeadMount(const std::string& mountpoint) {
  // statfs always reaches the daemon; a stat may be answered from cache.
  struct statvfs st {};
  if (::statvfs(mountpoint.c_str(), &st) == 0 || errno != ENOTCONN) {
    return;
  }
  Log(LogLevel::kWarning, "detaching the dead mount at " + mountpoint);
  const char* argv[] = {"fusermount3",      "-u",   "-z", "-q",
                        mountpoint.c_str(), nullptr};
  pid_t pid = 0;
  if (::posix_spawnp(&pid, "fusermount3", nullptr, nullptr,
                     const_cast<char**>(argv), environ) == 0) {
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
}

// Refuses a mount point that already serves a tree (a second mount would
// stack on the first), and warns when the mount hides files.
void CheckMountPoint(const std::string& given, const std::string& real) {
  if (!SendenseMountDevice(real).empty()) {
    throw Error(ErrorKind::kAlreadyExists,
                "a Sendense tree is already mounted at " + given +
                    " (unmount it first: fusermount3 -u " + given + ")");
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(real, ec)) {
    throw Error(ErrorKind::kInvalidArgument,
                "mount point " + given + " is not a directory");
  }
  if (!std::filesystem::is_empty(real, ec) && !ec) {
    Log(LogLevel::kWarning, "mount point " + given +
                                " is not empty: what it holds stays hidden "
                                "while the tree is mounted");
  }
}

// Polls the catalog and tells the kernel what changed.
class Refresher {
 public:
  Refresher(browse::Namespace& ns, fuse_session* se, double seconds)
      : ns_(ns),
        se_(se),
        thread_(std::chrono::duration<double>(seconds), [this] { Tick(); }) {}

 private:
  void Tick() {
    try {
      std::vector<std::pair<uint64_t, std::string>> gone;
      if (ns_.Refresh(&gone)) {
        Notify(gone);
      }
    } catch (const std::exception& e) {
      Log(LogLevel::kError, std::string("refreshing the tree: ") + e.what());
    }
  }

  void Notify(const std::vector<std::pair<uint64_t, std::string>>& gone) {
    for (const auto& [parent, name] : gone) {
      fuse_lowlevel_notify_inval_entry(se_, parent, name.c_str(), name.size());
    }
    // Folders that gain entries, and the `latest` links.
    fuse_lowlevel_notify_inval_inode(se_, browse::kRootId, 0, 0);
    const browse::Listing vms =
        ns_.List(browse::kRootId, 0, std::numeric_limits<size_t>::max());
    for (const auto& vm : vms.entries) {
      fuse_lowlevel_notify_inval_inode(se_, vm.attr.id, 0, 0);
      if (const auto latest = ns_.Lookup(vm.attr.id, "latest")) {
        fuse_lowlevel_notify_inval_inode(se_, latest->id, 0, 0);
        fuse_lowlevel_notify_inval_entry(se_, vm.attr.id, "latest", 6);
      }
    }
  }

  browse::Namespace& ns_;
  fuse_session* se_;
  PeriodicThread thread_;  // last: ticks use the rest
};

}  // namespace

void MountAndServe(const Repository& repo, const MountOptions& options) {
  // The namespace: serve's, or this mount's own. Neither pool opens a
  // connection or starts a thread before its first use, so both may cross
  // the fork below.
  std::unique_ptr<CatalogPool> own_catalogs;
  std::unique_ptr<guest::AppliancePool> own_appliances;
  std::unique_ptr<browse::Namespace> own_namespace;
  browse::Namespace* ns = options.shared_namespace;
  if (ns == nullptr) {
    own_catalogs = std::make_unique<CatalogPool>(repo);
    own_appliances = std::make_unique<guest::AppliancePool>(
        options.appliances,
        std::chrono::seconds(options.appliance_idle_seconds));
    own_namespace = std::make_unique<browse::Namespace>(repo, *own_catalogs,
                                                        *own_appliances);
    own_namespace->ShowOnlyTenant(options.tenant);
    ns = own_namespace.get();
  }
  {
    // The first snapshot is ready before the mount appears. Its catalog
    // connections close before the fork into the background: SQLite's
    // POSIX locks stay with the process that took them, so a connection
    // that crossed the fork would lose them with the parent, and the next
    // process to close the catalog would delete the WAL under the daemon.
    auto catalog = repo.OpenCatalog();
    GuestIndex index(repo.CatalogPath());
    ns->Refresh(*catalog, index);
  }
  FsContext ctx(*ns);
  std::string opts =
      "ro,nosuid,nodev,fsname=sendense,subtype=sendense,max_read=1048576";
  if (options.allow_other) {
    opts += ",allow_other,default_permissions";
  }
  const char* argv[] = {"sendense", "-o", opts.c_str()};
  fuse_args args = FUSE_ARGS_INIT(3, const_cast<char**>(argv));
  // The session parses into copies it allocates; freed after it is gone.
  struct ArgsGuard {
    fuse_args* args;
    ~ArgsGuard() { fuse_opt_free_args(args); }
  } args_guard{&args};
  const fuse_lowlevel_ops& ops = GetFuseOperations();
  fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, &ctx);
  if (se == nullptr) {
    throw Error(ErrorKind::kInvalidArgument, "cannot create the FUSE session");
  }
  struct SessionGuard {
    fuse_session* se;
    bool mounted = false;
    ~SessionGuard() {
      fuse_remove_signal_handlers(se);
      if (mounted) {
        fuse_session_unmount(se);
      }
      fuse_session_destroy(se);
    }
  } guard{se};
  if (fuse_set_signal_handlers(se) != 0) {
    throw Error(ErrorKind::kIo, "cannot install signal handlers");
  }
  DetachDeadMount(options.mountpoint);
  char real[PATH_MAX];
  if (::realpath(options.mountpoint.c_str(), real) == nullptr) {
    throw Error(ErrorKind::kNotFound,
                "mount point " + options.mountpoint + " does not exist");
  }
  CheckMountPoint(options.mountpoint, real);
  if (fuse_session_mount(se, real) != 0) {
    throw Error(ErrorKind::kInvalidArgument,
                "cannot mount the tree at " + options.mountpoint +
                    " (does it exist, and is /dev/fuse usable?)");
  }
  guard.mounted = true;
  RaiseReadAhead(real, options.read_ahead_kb);
  // Threads start after daemonizing: fork keeps only the calling thread.
  fuse_daemonize(options.foreground ? 1 : 0);
  if (!options.foreground) {
    LogToSyslog();  // stderr is /dev/null from here on
  }
  ctx.reads =
      std::make_unique<WorkerPool>(options.read_threads, "sendense-read");
  // Queued reads are answered while the session still exists, on every
  // path out: this goes before `guard`, the namespace and its pools last.
  struct DrainReads {
    FsContext& ctx;
    ~DrainReads() { ctx.reads.reset(); }
  } drain{ctx};
  Refresher refresher(*ns, se, options.refresh_seconds);
  fuse_session_loop(se);
}

bool IsTreeMounted(const std::string& path) {
  std::ifstream mounts("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mounts, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    if (point == path && line.find(" - fuse.sendense ") != std::string::npos) {
      return true;
    }
  }
  return false;
}

}  // namespace sendense::fs
