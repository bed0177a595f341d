#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/catalog/retention_policy.h"
#include "engine/repo/point_drop.h"
#include "engine/repo/repository.h"

namespace sendense::retention {

struct PruneRequest {
  std::string vm;                // "" for every VM
  std::optional<Policy> policy;  // none: each VM's stored policy
  bool dry_run = false;
  DropOptions drop;
};

// What a prune or forget decided and did for one VM.
struct PruneReport {
  std::string vm;
  Policy policy;
  bool dry_run = false;
  std::vector<Decision> decisions;  // complete points, newest first
  std::vector<std::string> dropped;
  std::vector<std::string> removed;  // failed and interrupted backups
  uint64_t merged_bytes = 0;
  uint64_t freed_bytes = 0;
};

// Applies a retention policy: drops (DropBackup) every complete point of
// the VM that no rule keeps, oldest first, never the newest; removes the
// records of failed and interrupted backups older than the newest complete
// one; finishes drops a crash interrupted. Takes each VM's lock (Error
// kBusy while a backup or prune of it runs). Error kInvalidArgument when
// no policy is given or stored.
std::vector<PruneReport> Prune(const Repository& repo,
                               const PruneRequest& request);

// Drops the named points of `vm`; Error kNotFound for an unknown name and
// kInvalidArgument for the VM's newest complete point (the next
// incremental builds on it), before anything is dropped.
PruneReport Forget(const Repository& repo,
                   const std::string& vm,
                   const std::vector<std::string>& points,
                   const DropOptions& options = {});

// What Prune and Forget check before they take the VM's lock, with the
// same errors, for a front end that queues them as jobs and answers now:
// the VM exists and a policy is given or stored (kNotFound, or
// kInvalidArgument with Remedy::kGiveRetentionPolicy); each point exists
// and none is the newest complete one.
void CheckPrune(const Repository& repo, const PruneRequest& request);
void CheckForget(const Repository& repo,
                 const std::string& vm,
                 const std::vector<std::string>& points);

// The JSON record of a report (docs/api.md: "prune report").
nlohmann::json PruneReportJson(const PruneReport& r);
// {"prunes": [PRUNE REPORT...]}: prune --json, a prune job's result, a
// dry run's answer.
nlohmann::json PrunesJson(const std::vector<PruneReport>& reports);

}  // namespace sendense::retention
