#pragma once

#include <string>

#include "engine/browse/namespace.h"
#include "engine/repo/repository.h"

namespace sendense::fs {

struct MountOptions {
  std::string mountpoint;
  bool foreground = false;
  bool allow_other = false;  // with default_permissions
  std::string tenant;        // only this tenant's VMs, by their own names
  size_t read_threads = 4;
  unsigned read_ahead_kb = 1024;     // the mount's bdi read-ahead
  double refresh_seconds = 1.0;      // how often the catalog is polled
  size_t appliances = 2;             // libguestfs appliances at most
  int appliance_idle_seconds = 120;  // an unused appliance closes after
  // When set (by `serve`), the tree is this namespace (shared with the
  // API); otherwise the mount makes its own.
  browse::Namespace* shared_namespace = nullptr;
};

// Mounts the tree of `repo` at options.mountpoint (read-only, nosuid,
// nodev) and serves it until it is unmounted (`fusermount3 -u`) or the
// process gets SIGTERM/SIGINT/SIGHUP. Without `foreground` the process
// daemonizes once the mount is ready. Thread model: one FUSE loop thread
// answers metadata from an immutable snapshot of the tree; disk reads go to
// a pool of `read_threads` workers that reply themselves; one thread polls
// the catalog and swaps in a new snapshot when backups appear or vanish.
// Throws Error when the mount cannot be made.
void MountAndServe(const Repository& repo, const MountOptions& options);

// Whether a Sendense tree is mounted at `path` (absolute, normalized), as
// /proc/self/mountinfo says.
bool IsTreeMounted(const std::string& path);

}  // namespace sendense::fs
