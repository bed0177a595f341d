#pragma once

#include <functional>
#include <string>

#include "engine/browse/namespace.h"

namespace sendense::browse {

// Streams folder `root` of `ns` and everything under it as a tar (pax) or
// zip archive through `write`, the folder itself named `name`. Names,
// modes, owners, times and symlinks are as the namespace reports them;
// device nodes, fifos and sockets are skipped. Throws Error (or what
// `write` threw); what was written by then is never a whole archive: a
// failed read ends it without padding, trailer or central directory.
void StreamArchive(const std::string& format,
                   Namespace& ns,
                   NodeId root,
                   const std::string& name,
                   const std::function<void(const char*, size_t)>& write);

}  // namespace sendense::browse
