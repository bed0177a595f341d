#include "engine/repo/capacity_report.h"

#include <algorithm>
#include <chrono>

#include "engine/io/capacity.h"
#include "engine/time.h"

namespace sendense {

CapacityReport MeasureCapacity(const Repository& repo,
                               const std::vector<BackupRecord>& backups) {
  CapacityReport c;
  c.used_bytes = repo.UsedBytes();
  c.free_bytes = FreeBytes(repo.path());
  constexpr int64_t kDay = 86400;
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  int64_t first = now;
  int64_t oldest = now;
  uint64_t stored = 0;
  for (const auto& b : backups) {
    const int64_t t = ParseIsoTime(b.finished_at);
    if (b.state == BackupState::kComplete && t != 0) {
      oldest = std::min(oldest, t);
    }
    if (b.state != BackupState::kComplete || t == 0 || t < now - 7 * kDay) {
      continue;
    }
    first = std::min(first, t);
    for (const auto& p : b.points) {
      stored += p.bytes_stored;
    }
  }
  const double days = std::max(
      1.0, static_cast<double>(now - first) / static_cast<double>(kDay));
  c.growth_bytes_per_day =
      static_cast<uint64_t>(static_cast<double>(stored) / days);
  c.growth_known = now - oldest >= kDay;
  return c;
}

nlohmann::json CapacityJson(const CapacityReport& c) {
  return {{"used_bytes", c.used_bytes},
          {"free_bytes", c.free_bytes},
          {"growth_bytes_per_day", c.growth_known
                                       ? nlohmann::json(c.growth_bytes_per_day)
                                       : nlohmann::json(nullptr)}};
}

}  // namespace sendense
