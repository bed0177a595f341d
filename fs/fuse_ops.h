#pragma once

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

namespace sendense::fs {

// The low-level operations of the read-only tree. The session's user data
// must be a FsContext. Every callback runs through one wrapper that turns
// exceptions into errno replies.
const fuse_lowlevel_ops& GetFuseOperations();

}  // namespace sendense::fs
