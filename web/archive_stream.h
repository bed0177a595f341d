#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/catalog/guest_index.h"
#include "engine/guest/appliance.h"

namespace sendense::web {

// Streams the guest folder `root` (an index entry) as a tar (pax) or zip
// archive through `write`, reading content from `app` at `mount` (the
// folder's filesystem mounted in the appliance, "/sda1"). Entries come
// from the index: names, modes, owners, times and symlinks as in the guest;
// device nodes and sockets are skipped. Throws Error.
void StreamArchive(const std::string& format,
                   GuestIndex& index,
                   const GuestEntry& root,
                   guest::Appliance& app,
                   const std::string& mount,
                   const std::function<void(const char*, size_t)>& write);

}  // namespace sendense::web
