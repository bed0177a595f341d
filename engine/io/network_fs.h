#pragma once

#include <string>

namespace sendense {

// The network filesystem `path` is on ("nfs", "smb", "ceph", "9p", "afs",
// "fuse"), or "" for a local one (or when it cannot be told). SQLite's
// WAL needs shared memory that such filesystems do not share between
// machines: the catalog uses a rollback journal there.
std::string NetworkFilesystem(const std::string& path);
// The same for a statfs f_type.
std::string NetworkFilesystemOfType(long f_type);

}  // namespace sendense
