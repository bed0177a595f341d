#include "engine/retention/prune.h"

#include <algorithm>
#include <set>

#include "engine/catalog/names.h"
#include "engine/catalog/vm_configs.h"
#include "engine/error.h"
#include "engine/repo/export_records.h"
#include "engine/repo/immutability.h"
#include "engine/time.h"

namespace sendense::retention {
namespace {

// Drops `names` (complete backups of `b`'s VM) oldest first.
void DropAll(const Repository& repo,
             Catalog& catalog,
             const std::vector<BackupRecord>& backups,
             const std::set<std::string>& names,
             const DropOptions& options,
             PruneReport& report) {
  for (const auto& b : backups) {  // oldest first
    if (names.count(b.name) == 0) {
      continue;
    }
    const DropResult r = DropBackup(repo, catalog, b, options);
    report.dropped.push_back(b.name);
    report.merged_bytes += r.merged_bytes;
    report.freed_bytes += r.freed_bytes;
  }
}

// Finishes the drops of `vm` a crash or a reader interrupted.
void FinishInterrupted(const Repository& repo,
                       Catalog& catalog,
                       const std::string& vm,
                       const DropOptions& options,
                       PruneReport& report) {
  for (const auto& r : FinishDrops(repo, catalog, vm, options)) {
    report.dropped.push_back(r.backup);
    report.merged_bytes += r.merged_bytes;
    report.freed_bytes += r.freed_bytes;
  }
}

PruneReport PruneVm(const Repository& repo,
                    const std::string& vm,
                    const Policy& policy,
                    const PruneRequest& request) {
  PruneReport report;
  report.vm = vm;
  report.policy = policy;
  report.dry_run = request.dry_run;
  const Repository::VmLock lock(repo, vm, "a prune");
  auto catalog = repo.OpenCatalogForWriting(nullptr, vm);
  if (!request.dry_run) {
    FinishInterrupted(repo, *catalog, vm, request.drop, report);
  }
  const auto backups = catalog->Backups(vm);
  std::vector<Candidate> candidates;
  int64_t newest_complete = 0;
  for (const auto& b : backups) {
    if (b.state == BackupState::kComplete) {
      candidates.push_back({b.name, ParseIsoTime(b.started_at)});
      newest_complete = b.id;
    }
  }
  report.decisions = Apply(policy, candidates);
  if (request.dry_run) {
    return report;
  }
  for (const auto& b : backups) {
    if ((b.state == BackupState::kFailed ||
         b.state == BackupState::kInterrupted) &&
        b.id < newest_complete) {
      catalog->RemoveBackup(b.id);
      report.removed.push_back(b.name);
    }
  }
  std::set<std::string> drop;
  const ExportRecords exports(repo);
  for (auto& d : report.decisions) {
    if (!d.keep) {
      try {
        exports.RefuseIfExported(vm, d.name);
      } catch (const Error&) {
        d.keep = true;  // served over NBD: kept until unexported
        d.reasons.push_back("exported");
        continue;
      }
      try {
        for (const auto& b : backups) {
          if (b.name == d.name) {
            RefuseIfImmutable(repo, *catalog, b);
          }
        }
        drop.insert(d.name);
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::kBusy) {
          throw;
        }
        d.keep = true;  // kept until it (or the point after it) expires
        d.reasons.push_back(e.what());
      }
    }
  }
  DropAll(repo, *catalog, backups, drop, request.drop, report);
  return report;
}

// The policy a prune of `vm` runs: the request's, else the stored one
// (empty when neither).
Policy PolicyFor(VmConfigs& configs,
                 const PruneRequest& request,
                 const std::string& vm) {
  if (request.policy && !request.policy->empty()) {
    return *request.policy;
  }
  if (const auto config = configs.Find(vm)) {
    return config->retention;
  }
  return {};
}

// The newest complete backup's name ("" when none).
std::string NewestComplete(const std::vector<BackupRecord>& backups) {
  std::string newest;
  for (const auto& b : backups) {
    if (b.state == BackupState::kComplete) {
      newest = b.name;
    }
  }
  return newest;
}

// Error unless `it` (in `backups`, or end) can be forgotten: kNotFound for
// an unknown name, kInvalidArgument for the newest complete point or one
// that is neither complete nor a record of a failed backup.
void CheckForgettable(const std::vector<BackupRecord>& backups,
                      std::vector<BackupRecord>::const_iterator it,
                      const std::string& vm,
                      const std::string& name) {
  if (it == backups.end()) {
    throw Error(ErrorKind::kNotFound,
                "VM '" + vm + "' has no point named '" + name + "'");
  }
  if (it->state == BackupState::kFailed ||
      it->state == BackupState::kInterrupted) {
    return;  // a record with no point
  }
  if (it->state != BackupState::kComplete &&
      it->state != BackupState::kDropping) {
    throw Error(ErrorKind::kInvalidArgument,
                "'" + name + "' of VM '" + vm + "' is " + StateName(it->state) +
                    ", not a complete point");
  }
  if (name == NewestComplete(backups)) {
    throw Error(ErrorKind::kInvalidArgument,
                "'" + name + "' is the newest point of VM '" + vm +
                    "': the next incremental backup builds on it; back up "
                    "first, then forget it");
  }
}

}  // namespace

void CheckPrune(const Repository& repo, const PruneRequest& request) {
  if (request.vm.empty()) {
    return;  // every VM: Prune says when none has a policy
  }
  VmConfigs configs(repo.CatalogPath());
  auto catalog = repo.OpenCatalog();
  if (!catalog->FindVm(request.vm) && !configs.Find(request.vm)) {
    auto known = catalog->VmNames();
    const auto names = configs.Names();
    known.insert(known.end(), names.begin(), names.end());
    ThrowNoSuchVm(request.vm, known);
  }
  if (PolicyFor(configs, request, request.vm).empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                "VM '" + request.vm + "' has no retention policy",
                Remedy::kGiveRetentionPolicy, request.vm);
  }
}

void CheckForget(const Repository& repo,
                 const std::string& vm,
                 const std::vector<std::string>& points) {
  const auto backups = repo.OpenCatalog()->Backups(vm);
  for (const auto& name : points) {
    CheckForgettable(
        backups,
        std::find_if(backups.begin(), backups.end(),
                     [&](const auto& b) { return b.name == name; }),
        vm, name);
  }
}

std::vector<PruneReport> Prune(const Repository& repo,
                               const PruneRequest& request) {
  std::vector<std::string> vms;
  if (!request.vm.empty()) {
    vms.push_back(request.vm);
  } else {
    vms = repo.OpenCatalog()->VmNames();
  }
  VmConfigs configs(repo.CatalogPath());
  std::vector<PruneReport> reports;
  for (const auto& vm : vms) {
    const Policy policy = PolicyFor(configs, request, vm);
    if (policy.empty()) {
      if (!request.vm.empty()) {
        throw Error(ErrorKind::kInvalidArgument,
                    "VM '" + vm + "' has no retention policy",
                    Remedy::kGiveRetentionPolicy, vm);
      }
      continue;  // every VM: those without a policy are left alone
    }
    if (!request.vm.empty() && !repo.OpenCatalog()->FindVm(vm)) {
      throw Error(ErrorKind::kNotFound, "no backups of VM '" + vm + "'");
    }
    reports.push_back(PruneVm(repo, vm, policy, request));
  }
  if (reports.empty() && request.vm.empty()) {
    throw Error(ErrorKind::kInvalidArgument, "no VM has a retention policy",
                Remedy::kGiveRetentionPolicy);
  }
  return reports;
}

PruneReport Forget(const Repository& repo,
                   const std::string& vm,
                   const std::vector<std::string>& points,
                   const DropOptions& options) {
  PruneReport report;
  report.vm = vm;
  const Repository::VmLock lock(repo, vm, "a forget");
  auto catalog = repo.OpenCatalogForWriting(nullptr, vm);
  FinishInterrupted(repo, *catalog, vm, options, report);
  const auto backups = catalog->Backups(vm);
  std::set<std::string> drop;
  for (const auto& name : points) {
    const auto it = std::find_if(backups.begin(), backups.end(),
                                 [&](const auto& b) { return b.name == name; });
    if (it == backups.end() &&
        std::count(report.dropped.begin(), report.dropped.end(), name)) {
      continue;  // an interrupted drop of it was just finished
    }
    CheckForgettable(backups, it, vm, name);
    if (it->state == BackupState::kFailed ||
        it->state == BackupState::kInterrupted) {
      // A record with no point: removed as such, nothing to merge.
      catalog->RemoveBackup(it->id);
      report.removed.push_back(name);
      continue;
    }
    drop.insert(name);
  }
  DropAll(repo, *catalog, backups, drop, options, report);
  return report;
}

nlohmann::json PruneReportJson(const PruneReport& r) {
  nlohmann::json points = nlohmann::json::array();
  for (const auto& d : r.decisions) {
    points.push_back({{"name", d.name},
                      {"time", IsoTime(std::chrono::system_clock::from_time_t(
                                   static_cast<std::time_t>(d.time)))},
                      {"action", d.keep ? "keep" : "drop"},
                      {"reasons", d.reasons}});
  }
  return {{"vm", r.vm},
          {"policy", PolicyJson(r.policy)},
          {"dry_run", r.dry_run},
          {"points", points},
          {"dropped", r.dropped},
          {"removed", r.removed},
          {"merged_bytes", r.merged_bytes},
          {"freed_bytes", r.freed_bytes}};
}

nlohmann::json PrunesJson(const std::vector<PruneReport>& reports) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& r : reports) {
    list.push_back(PruneReportJson(r));
  }
  return {{"prunes", list}};
}

}  // namespace sendense::retention
