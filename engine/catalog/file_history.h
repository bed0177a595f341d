#pragma once

// Searches of the guest file index, as records: `find` and `history` of
// the CLI and GET /api/v1/find and /api/v1/history print the same JSON.

#include <string>

#include <nlohmann/json.hpp>

#include "engine/catalog/catalog.h"
#include "engine/catalog/guest_index.h"

namespace sendense {

// A match: {"vm", "backup", "filesystem", "path", "tree_path", "type",
// "size", "mode", "mtime"}; tree_path is where it is under the mount.
nlohmann::json GuestFileHitJson(const GuestFileHit& hit);

// "dir", "file", "link" or "special".
const char* GuestTypeName(uint32_t mode);

// The versions of one guest file across the complete points of `vm`,
// oldest first: GuestFileHitJson rows with "change" ("new", "changed",
// "same") and "changed"; a point that indexed the filesystem without the
// file after it was there gives a row {"vm", "backup", "filesystem",
// "path", "change": "deleted", "changed": true}. A version is new when
// its size, mtime or mode moved since the point before (ctime is left
// out: rebuilding a disk changes it without changing the file).
// `spec` is "/etc/motd" (any filesystem) or "sda1:/etc/motd". Error
// kInvalidArgument for a relative path, kNotFound when no indexed point
// holds it.
nlohmann::json FileHistory(Catalog& catalog,
                           GuestIndex& index,
                           const std::string& vm,
                           const std::string& spec);

}  // namespace sendense
