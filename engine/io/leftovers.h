#pragma once

#include <cstddef>
#include <ctime>
#include <string>

namespace sendense {

// Temporary files and folders outside the repository that a killed
// process would leave (a restore's ".NAME.restoring", an appliance's
// overlay folder): each is noted in a ledger folder while it exists, the
// note named by its owner's pid, and removed by the next start of anything
// that makes such files once that owner is gone.
class LeftoverNote {
 public:
  // Notes `path` (absolute) in `ledger` (created 0700 when missing).
  LeftoverNote(const std::string& ledger, const std::string& path);
  // Removes the note: the owner removed or published `path` itself.
  ~LeftoverNote();
  LeftoverNote(const LeftoverNote&) = delete;
  LeftoverNote& operator=(const LeftoverNote&) = delete;

 private:
  std::string note_;
};

// Removes what owners that are gone noted in `ledger` (the noted file or
// folder, then the note); returns how many. Only names a Sendense program
// makes are removed: ".NAME.restoring" files and "sendense-overlay-*"
// folders. Never throws.
size_t ReclaimLeftovers(const std::string& ledger);

// Whether `pid` is a live process that started by `noted_at` (epoch
// seconds): its pid was not reused since.
bool OwnerAlive(long pid, std::time_t noted_at);

}  // namespace sendense
