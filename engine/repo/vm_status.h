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
  // The worst of its complete backups'.
  VerifyState verify_state = VerifyState::kOk;
  Health health = Health::kOk;
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

// The repository's complete points by what verify found, for /metrics.
struct PointTally {
  uint64_t backups = 0;       // complete backups
  uint64_t damaged = 0;       // points damaged or built on a damaged one
  uint64_t unverified = 0;    // points never verified (or without digests)
  double copy_seconds = 0;    // spent copying their disks
  int64_t last_verified = 0;  // epoch seconds a point was last verified; 0
};
PointTally TallyPoints(const std::vector<BackupRecord>& backups);

}  // namespace sendense
