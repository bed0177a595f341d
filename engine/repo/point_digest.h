#pragma once

#include <optional>

#include "engine/catalog/catalog.h"
#include "engine/qcow2/disk_digest.h"
#include "engine/repo/repository.h"

namespace sendense {

// The whole-disk digest of the point in `file` (relative to the
// repository; its digest file written) whose parent is `parent_id`,
// derived from the parent's recorded groups and the digest files of the
// chain (qcow2::DeriveDiskDigest). nullopt when a point of the chain has no
// digest file (made before digests). Throws on an unreadable image header.
std::optional<qcow2::DiskDigest> DerivePointDigest(
    const Repository& repo,
    Catalog& catalog,
    const std::string& file,
    uint64_t virtual_size,
    const std::optional<int64_t>& parent_id);

}  // namespace sendense
