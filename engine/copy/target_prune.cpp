#include "engine/copy/target_prune.h"

#include <algorithm>
#include <map>
#include <set>

#include "engine/catalog/names.h"
#include "engine/copy/copy.h"
#include "engine/copy/s3_copy.h"
#include "engine/copy/s3_target.h"
#include "engine/error.h"
#include "engine/time.h"

namespace sendense::copy {
namespace {

using TimePoint = std::chrono::system_clock::time_point;

bool EndsWith(const std::string& s, const std::string& end) {
  return s.size() >= end.size() &&
         s.compare(s.size() - end.size(), end.size(), end) == 0;
}

// A backup in a bucket, as its manifest tells it.
struct BucketBackup {
  std::string name;
  int64_t time = 0;               // started_at, seconds since the epoch
  std::string retain_until;       // "" when not locked
  std::set<std::string> parents;  // the backups its points build on
  std::set<std::string> keys;     // its manifest, files, digests and index
};

// A VM's backups in a bucket, oldest first (names sort by time).
std::vector<BucketBackup> ReadBucketVm(const s3::Client& client,
                                       const std::string& vm) {
  std::vector<BucketBackup> out;
  const std::string manifests = "vms/" + vm + "/backups/";
  for (const auto& o : client.List(manifests)) {
    if (!EndsWith(o.key, ".json")) {
      continue;
    }
    BucketBackup b;
    b.name =
        o.key.substr(manifests.size(), o.key.size() - manifests.size() - 5);
    const auto m = nlohmann::json::parse(client.Get(o.key));
    b.time = ParseIsoTime(m.value("started_at", ""));
    if (m.contains("retain_until")) {
      b.retain_until = m.value("retain_until", "");
    } else if (const auto head = client.Head(o.key)) {
      b.retain_until = head->lock.retain_until;
    }
    b.keys.insert(o.key);
    for (const auto& p : m.at("points")) {
      b.keys.insert(p.at("file").get<std::string>());
      if (p.contains("sums") && p["sums"].is_object()) {
        b.keys.insert(p["sums"].at("file").get<std::string>());
      }
      if (p.contains("parent") && p["parent"].is_string()) {
        b.parents.insert(p["parent"].get<std::string>());
      }
    }
    if (m.contains("guest_index") && m["guest_index"].is_object()) {
      b.keys.insert(m["guest_index"].at("file").get<std::string>());
    }
    out.push_back(std::move(b));
  }
  return out;
}

bool LockedAt(const std::string& retain_until, TimePoint now) {
  return !retain_until.empty() &&
         ParseIsoTime(retain_until) > std::chrono::system_clock::to_time_t(now);
}

// Deletes every version under the VM's folder that is not the current
// object of a key in `keep` (manifests first: a backup leaves the bucket's
// view before its files go), and the uploads nothing completed. A version
// still under Object Lock stays for a later prune. Returns the bytes freed.
uint64_t Sweep(const s3::Client& client,
               const std::string& vm,
               const std::set<std::string>& keep,
               TimePoint now) {
  const std::string folder = "vms/" + vm + "/";
  for (const auto& u : client.Uploads(folder)) {
    client.AbortUpload(u.key, u.id);
  }
  auto versions = client.ListVersions(folder);
  std::stable_partition(
      versions.begin(), versions.end(),
      [](const s3::Version& v) { return EndsWith(v.key, ".json"); });
  uint64_t freed = 0;
  for (const auto& v : versions) {
    if (v.latest && !v.delete_marker && keep.count(v.key)) {
      continue;
    }
    if (!v.delete_marker) {
      const auto head = client.Head(v.key, v.version_id);
      if (head && LockedAt(head->lock.retain_until, now)) {
        continue;  // the gateway would refuse: a later prune takes it
      }
    }
    client.Delete(v.key, v.version_id);
    freed += v.size;
  }
  return freed;
}

std::set<std::string> KeysOf(const std::vector<BucketBackup>& backups,
                             const std::set<std::string>& except) {
  std::set<std::string> keys;
  for (const auto& b : backups) {
    if (!except.count(b.name)) {
      keys.insert(b.keys.begin(), b.keys.end());
    }
  }
  return keys;
}

retention::PruneReport PruneBucketVm(const Repository& repo,
                                     const s3::Client& client,
                                     const Target& target,
                                     const std::string& vm,
                                     const retention::Policy& policy,
                                     bool dry_run,
                                     TimePoint now) {
  const Repository::VmLock lock(repo, vm, "a prune of target " + target.name);
  retention::PruneReport report;
  report.vm = vm;
  report.policy = policy;
  report.dry_run = dry_run;
  const auto backups = ReadBucketVm(client, vm);
  std::vector<retention::Candidate> candidates;
  std::map<std::string, const BucketBackup*> by_name;
  for (const auto& b : backups) {
    candidates.push_back({b.name, b.time});
    by_name[b.name] = &b;
  }
  report.decisions = retention::Apply(policy, candidates);
  // Newest first: a backup is decided before the ones it builds on.
  std::set<std::string> needed, drop;
  for (auto& d : report.decisions) {
    const BucketBackup& b = *by_name.at(d.name);
    if (!d.keep && needed.count(d.name)) {
      d.keep = true;
      d.reasons.push_back("a kept point builds on it");
    }
    if (!d.keep && LockedAt(b.retain_until, now)) {
      d.keep = true;
      d.reasons.push_back("locked until " + b.retain_until);
    }
    if (d.keep) {
      needed.insert(b.parents.begin(), b.parents.end());
    } else {
      drop.insert(d.name);
    }
  }
  if (dry_run) {
    return report;
  }
  report.freed_bytes = Sweep(client, vm, KeysOf(backups, drop), now);
  for (const auto& b : backups) {  // oldest first
    if (drop.count(b.name)) {
      report.dropped.push_back(b.name);
    }
  }
  return report;
}

}  // namespace

std::vector<retention::PruneReport> PruneTarget(
    const Repository& repo,
    const Target& target,
    const retention::PruneRequest& request,
    TimePoint now) {
  retention::PruneRequest asked = request;
  if (!asked.policy || asked.policy->empty()) {
    asked.policy = target.retention;
  }
  if (target.kind == "dir") {
    RequireRepositoryAt(target.location, &target);
    if (asked.policy->empty()) {
      asked.policy.reset();  // each VM's policy there
    }
    return retention::Prune(Repository(target.location), asked);
  }
  if (asked.policy->empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                "target " + target.name +
                    " has no retention policy: give --keep-* options, or "
                    "store one with target set " +
                    target.name + " --keep-daily N ...");
  }
  CheckS3Target(target);
  const s3::Client client(S3Options(target));
  const auto all = BucketBackups(client);
  if (!request.vm.empty() && !all.count(request.vm)) {
    throw Error(ErrorKind::kNotFound, "target " + target.name +
                                          " holds no backup of VM '" +
                                          request.vm + "'");
  }
  std::vector<retention::PruneReport> reports;
  for (const auto& [vm, names] : all) {
    if (request.vm.empty() || vm == request.vm) {
      ValidateQualifiedName("VM name", vm);
      reports.push_back(PruneBucketVm(repo, client, target, vm, *asked.policy,
                                      request.dry_run, now));
    }
  }
  return reports;
}

retention::PruneReport ForgetInTarget(const Repository& repo,
                                      const Target& target,
                                      const std::string& vm,
                                      const std::vector<std::string>& names) {
  if (target.kind == "dir") {
    RequireRepositoryAt(target.location, &target);
    return retention::Forget(Repository(target.location), vm, names);
  }
  ValidateQualifiedName("VM name", vm);
  CheckS3Target(target);
  const s3::Client client(S3Options(target));
  const Repository::VmLock lock(repo, vm, "a forget in target " + target.name);
  const auto backups = ReadBucketVm(client, vm);
  const auto now = std::chrono::system_clock::now();
  const std::set<std::string> drop(names.begin(), names.end());
  retention::PruneReport report;
  report.vm = vm;
  for (const auto& name : names) {
    const auto it = std::find_if(backups.begin(), backups.end(),
                                 [&](const auto& b) { return b.name == name; });
    if (it == backups.end()) {
      throw Error(ErrorKind::kNotFound, "target " + target.name +
                                            " holds no backup '" + name +
                                            "' of VM '" + vm + "'");
    }
    if (it + 1 == backups.end()) {
      throw Error(ErrorKind::kInvalidArgument,
                  "'" + name + "' is the newest backup of VM '" + vm +
                      "' in target " + target.name +
                      ": the next copy builds on it; copy a newer one "
                      "first, then forget it");
    }
    if (LockedAt(it->retain_until, now)) {
      throw Error(ErrorKind::kDenied,
                  "'" + name + "' of VM '" + vm + "' in target " + target.name +
                      " is under Object Lock until " + it->retain_until +
                      ": the gateway refuses its deletion until then");
    }
    for (const auto& b : backups) {
      if (!drop.count(b.name) && b.parents.count(name)) {
        throw Error(ErrorKind::kInvalidArgument,
                    "backup " + b.name + " of VM '" + vm + "' in target " +
                        target.name + " builds on '" + name +
                        "': forget it too, or let prune drop the chain "
                        "whole");
      }
    }
  }
  report.freed_bytes = Sweep(client, vm, KeysOf(backups, drop), now);
  for (const auto& b : backups) {
    if (drop.count(b.name)) {
      report.dropped.push_back(b.name);
    }
  }
  return report;
}

}  // namespace sendense::copy
