#include "web/overview_api.h"

#include <algorithm>
#include <chrono>

#include "engine/catalog/file_history.h"
#include "engine/catalog/guest_diff.h"
#include "engine/error.h"
#include "engine/repo/capacity_report.h"
#include "engine/repo/known_vms.h"
#include "engine/repo/vm_status.h"
#include "engine/time.h"
#include "web/api_json.h"
#include "web/backups_api.h"
#include "web/url.h"

namespace sendense::web {
namespace {

using json = nlohmann::json;
constexpr size_t kRecentJobs = 20;

}  // namespace

Response Overview(Call& call) {
  ApiContext& ctx = call.ctx;
  CatalogPool::Handles& db = call.db();
  const auto clock = std::chrono::system_clock::now();
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(clock.time_since_epoch())
          .count();
  const auto backups = VisibleBackups(call);
  auto configs = db.vms->List();
  std::erase_if(configs,
                [&](const VmConfig& vm) { return !call.Sees(vm.name); });
  json vms = json::array();
  for (const auto& s : VmStatuses(configs, backups, now)) {
    vms.push_back(VmStatusJson(s));
  }
  // Running and queued jobs, then the ones that ended last.
  auto all = ctx.jobs.List();
  std::erase_if(all, [&](const JobStatus& j) { return !call.Sees(j.vm); });
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return Active(a.state) != Active(b.state) ? Active(a.state) : a.id > b.id;
  });
  json jobs = json::array();
  size_t ended = 0;
  for (const auto& j : all) {
    if (!Active(j.state) && ++ended > kRecentJobs) {
      break;
    }
    jobs.push_back(JobJson(j));
  }
  return Json(200, {{"now", IsoTime(clock)},
                    {"vms", vms},
                    {"repository", CapacityJson(CapacityFor(call, backups))},
                    {"jobs", jobs}});
}

namespace {

// ?limit=N (1 to 10000), `otherwise` when absent; 0 when it is not one.
size_t LimitParam(const std::string& query, size_t otherwise) {
  const std::string text = QueryParam(query, "limit");
  if (text.empty()) {
    return otherwise;
  }
  const bool digits = text.size() <= 5 &&
                      text.find_first_not_of("0123456789") == std::string::npos;
  const size_t limit = digits ? std::stoul(text) : 0;
  return limit <= 10000 ? limit : 0;
}

}  // namespace

Response FindFiles(Call& call) {
  CatalogPool::Handles& db = call.db();
  const std::string& query = call.query;
  const std::string pattern = QueryParam(query, "pattern");
  const std::string vm = QueryParam(query, "vm");
  if (pattern.empty()) {
    return Fail(400,
                "pattern is needed: a glob on the name (*.log) or, "
                "with a '/', on the whole path (/etc/*)");
  }
  const size_t limit = LimitParam(query, 1000);
  if (limit == 0) {
    return Fail(400, "limit must be 1 to 10000");
  }
  if (!vm.empty()) {
    RequireKnownVm(*db.catalog, *db.vms, vm);
  }
  // One more than asked: whether there were more. A tenant's caller
  // searches its VMs one by one.
  std::vector<GuestFileHit> hits;
  if (!vm.empty() || call.who.tenant.empty()) {
    hits = db.index->Find(vm, pattern, limit + 1);
  } else {
    for (const auto& own : KnownVms(*db.catalog, *db.vms)) {
      if (call.Sees(own) && hits.size() <= limit) {
        auto more = db.index->Find(own, pattern, limit + 1 - hits.size());
        hits.insert(hits.end(), more.begin(), more.end());
      }
    }
  }
  json matches = json::array();
  for (size_t i = 0; i < hits.size() && i < limit; ++i) {
    matches.push_back(GuestFileHitJson(hits[i]));
  }
  return Json(200, {{"matches", matches}, {"truncated", hits.size() > limit}});
}

Response FileHistoryOf(Call& call) {
  CatalogPool::Handles& db = call.db();
  const std::string& query = call.query;
  const std::string vm = QueryParam(query, "vm");
  const std::string path = QueryParam(query, "path");
  if (vm.empty() || path.empty()) {
    return Fail(400, "vm and path are needed, e.g. ?vm=web1&path=/etc/motd");
  }
  RequireKnownVm(*db.catalog, *db.vms, vm);
  return Json(200,
              {{"versions", FileHistory(*db.catalog, *db.index, vm, path)}});
}

Response GuestDiffOf(Call& call) {
  CatalogPool::Handles& db = call.db();
  const std::string& query = call.query;
  const std::string vm = QueryParam(query, "vm");
  const std::string from = QueryParam(query, "from");
  const std::string to = QueryParam(query, "to");
  if (vm.empty() || from.empty() || to.empty()) {
    return Fail(400,
                "vm, from and to are needed, e.g. ?vm=web1&from=POINT&to=POINT"
                "[&path=/etc][&limit=10000]");
  }
  const size_t limit = LimitParam(query, 10000);
  if (limit == 0) {
    return Fail(400, "limit must be 1 to 10000");
  }
  RequireKnownVm(*db.catalog, *db.vms, vm);
  return Json(200,
              GuestDiffJson(DiffGuestFiles(*db.catalog, *db.index, vm, from, to,
                                           QueryParam(query, "path")),
                            limit));
}

}  // namespace sendense::web
