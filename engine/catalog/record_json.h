#pragma once

// JSON views of catalog records, shared by backup.json in the tree,
// `--json` output and the API, so that a record reads the same everywhere.

#include <optional>

#include <nlohmann/json.hpp>

#include "engine/catalog/guest_index.h"

namespace sendense {

// What the guest index holds for a backup, and why `files/` may be empty:
//   {"state": "not-indexed" | "indexed" | "no-filesystems" | "failed",
//    "filesystems": N, "finished_at": ISO time or "", "error": ""}
nlohmann::json GuestIndexJson(const std::optional<IndexRun>& run);

}  // namespace sendense
