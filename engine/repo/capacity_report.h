#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/catalog/catalog.h"
#include "engine/repo/repository.h"

namespace sendense {

// How full a repository is and how fast it grows.
struct CapacityReport {
  uint64_t used_bytes = 0;  // what its files take on disk
  uint64_t free_bytes = 0;  // what may still be written on its filesystem
  // Bytes stored per day by the backups of the last 7 days (of the span
  // since the first one when the repository is younger).
  uint64_t growth_bytes_per_day = 0;
  // Whether there is a day of backups to tell the growth from: a
  // repository a minute old has no rate to speak of.
  bool growth_known = false;
};

CapacityReport MeasureCapacity(const Repository& repo,
                               const std::vector<BackupRecord>& backups);

// {"used_bytes", "free_bytes", "growth_bytes_per_day" (null until a day of
// backups tells it)}: `list --json`
// ("repository") and GET /api/v1/repository.
nlohmann::json CapacityJson(const CapacityReport& c);

}  // namespace sendense
