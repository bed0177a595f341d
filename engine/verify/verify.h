#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/repo/repository.h"
#include "engine/states.h"

namespace sendense::verify {

struct VerifyRequest {
  std::string vm;     // "" for every VM
  std::string point;  // "" for every point (needs vm)
  // Only points not verified within this many seconds (0: every point),
  // as PBS's re-verify age: `serve --verify-every`.
  int64_t max_age = 0;
};

// Whether a point verified at `verified_at` (ISO time, "" for never) is
// due again `max_age` seconds later, at `now` (epoch seconds).
bool VerifyDue(const std::string& verified_at, int64_t max_age, int64_t now);

// One point's verdict: its own check and what it means with its chain.
struct PointVerdict {
  std::string vm, backup, disk, file;
  VerifyState state = VerifyState::kUnverified;
  nlohmann::json problems = nlohmann::json::array();  // its own
  uint64_t bytes_read = 0;
};

struct VerifyReport {
  std::vector<PointVerdict> points;  // oldest first
  uint64_t bytes_read = 0;
  double seconds = 0;
  size_t damaged() const;  // damaged or depends-on-damaged
};

// Checks the complete points of a VM (or every VM, or one point): each
// point's own file with qcow2::CheckPoint (structure, and every cluster it
// holds against the digests recorded at backup time). A point is "ok",
// "damaged" (with the guest ranges and what is wrong), "unverified" (sound
// structure but no digests: backed up before they existed), or
// "depends-on-damaged" when a point below it in its chain is damaged.
// The findings and their time are stored in the catalog (list, the API and
// backup.json show them). Only reads points; takes no VM lock.
VerifyReport Verify(const Repository& repo, const VerifyRequest& request);

// Error kInvalidArgument for a request that makes no sense (a point
// without its VM), before anything is read.
void CheckVerifyRequest(const VerifyRequest& request);

// {"points": [{"vm", "backup", "disk", "file", "state", "problems"}],
//  "damaged", "bytes_read", "seconds"}
nlohmann::json VerifyReportJson(const VerifyReport& r);

}  // namespace sendense::verify
