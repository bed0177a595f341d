#pragma once

// How well each VM is protected: what the overview of the dashboard and
// GET /api/v1/overview show.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/catalog/catalog.h"
#include "engine/catalog/vm_configs.h"

namespace sendense {

struct VmStatus {
  std::string name;
  std::optional<VmConfig> config;    // none: backups left by a removed VM
  std::optional<BackupRecord> last;  // the newest backup, any state
  bool last_failed = false;          // the newest finished one failed or died
  std::string last_complete_at;      // when the newest complete one began
  int64_t age_seconds = -1;          // since then (-1: never)
  size_t points = 0;                 // complete backups
  uint64_t bytes_stored = 0;         // what its complete backups take
  std::string verify_state = "ok";   // the worst of its complete backups'
  // "damaged" (a complete point is damaged or built on one), "failed" (the
  // newest finished backup failed or was interrupted), "never" (no
  // complete backup), "late" (scheduled, and the newest complete backup
  // is older than one and a half schedule periods), else "ok".
  std::string health;
};

// One per VM configured or with backups, by name. `backups`: all of the
// catalog's, oldest first. `now` in epoch seconds.
std::vector<VmStatus> VmStatuses(const std::vector<VmConfig>& configs,
                                 const std::vector<BackupRecord>& backups,
                                 int64_t now);

// {"name", "configured", "schedule", "retention", "health",
//  "last_backup": BACKUP | null, "last_complete_at": time | null,
//  "age_seconds": N | null, "points", "bytes_stored", "verify_state"}
nlohmann::json VmStatusJson(const VmStatus& status);

}  // namespace sendense
