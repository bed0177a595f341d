#pragma once

// JSON views of catalog records, shared by backup.json in the tree,
// `--json` output and the API, so that a record reads the same everywhere.

#include <optional>

#include <nlohmann/json.hpp>

#include "engine/catalog/catalog.h"
#include "engine/catalog/guest_index.h"
#include "engine/catalog/vm_configs.h"

namespace sendense {

// A point (one disk of a backup):
//   {"disk", "kind", "reason", "file", "virtual_size", "bytes_read",
//    "bytes_stored", "seconds", "verify": {"state", "checked_at",
//    "problems": [{"offset", "length", "what"}]}}
nlohmann::json PointJson(const PointRecord& point);
// A backup's verify state: the worst of its points' (unverified without
// points).
VerifyState VerifyStateOf(const BackupRecord& backup);

// A backup: {"vm", "name", "id", "kind", "state", "started_at",
//   "finished_at", "error", "verify_state", "points": [PointJson...]}.
//   backup.json in the
// tree adds "guest_index"; the API's detail adds "filesystems" and
// "guest_index"; `backup --json` adds its timings.
nlohmann::json BackupJson(const BackupRecord& backup);
// Whether its suspicious-change report says "suspicious" (not reviewed).
bool IsSuspicious(const BackupRecord& backup);

// A VM's configuration: {"name", "disks": {"sda": URI}, "bitmap",
//   "schedule", "retention": {"keep_daily": 7, ...}}
// The VM record back (the API's POST /vms body); Error kInvalidArgument
// naming the expected shape.
VmConfig ParseVmJson(const nlohmann::json& body);
nlohmann::json VmJson(const VmConfig& vm);

// What the guest index holds for a backup, and why `files/` may be empty:
//   {"state": "not-indexed" | "indexed" | "no-filesystems" | "failed",
//    "filesystems": N, "finished_at": ISO time or "", "error": ""}
nlohmann::json GuestIndexJson(const std::optional<IndexRun>& run);

// A guest filesystem of a backup:
//   {"name", "device", "fstype", "state", "error", "files",
//    "regular_files", "mapped_files", "file_bytes", "mapped_bytes"}
// (mapped: regular files read straight from the chain by extent map).
nlohmann::json GuestFilesystemJson(const GuestFilesystem& fs);

}  // namespace sendense
