#include "web/routes.h"

#include "web/api_json.h"
#include "web/backups_api.h"
#include "web/files_api.h"
#include "web/jobs_api.h"
#include "web/metrics.h"
#include "web/overview_api.h"
#include "web/restore_api.h"
#include "web/retention_api.h"
#include "web/url.h"
#include "web/vms_api.h"

namespace sendense::web {
namespace {

using http::verb;

Response Health(Call&) {
  return Json(200, {{"status", "ok"}});
}

// A route's pattern, split once.
struct Compiled {
  const Route* route;
  std::vector<std::string> segments;  // "{x}" captures, "{x*}" the rest
};

bool IsCapture(const std::string& s) {
  return s.size() > 2 && s.front() == '{' && s.back() == '}';
}
bool IsRest(const std::string& s) {
  return IsCapture(s) && s[s.size() - 2] == '*';
}

// Whether `c` matches `segments`; its captures, decoded, in `*args`
// (Error kInvalidArgument for a segment that does not decode).
bool Matches(const Compiled& c,
             const std::vector<std::string>& segments,
             std::vector<std::string>* args) {
  args->clear();
  for (size_t i = 0; i < c.segments.size(); ++i) {
    const std::string& p = c.segments[i];
    if (IsRest(p)) {
      for (size_t j = i; j < segments.size(); ++j) {
        args->push_back(DecodeSegment(segments[j]));
      }
      return true;
    }
    if (i >= segments.size()) {
      return false;
    }
    if (IsCapture(p)) {
      args->push_back(DecodeSegment(segments[i]));
    } else if (p != segments[i]) {
      return false;
    }
  }
  return segments.size() == c.segments.size();
}

const std::vector<Compiled>& CompiledRoutes() {
  static const std::vector<Compiled> compiled = [] {
    std::vector<Compiled> out;
    for (const Route& r : Routes()) {
      std::string query;
      out.push_back({&r, SplitPath(std::string(r.pattern), &query)});
    }
    return out;
  }();
  return compiled;
}

bool SameMethod(verb route, verb asked) {
  return route == asked || (route == verb::get && asked == verb::head);
}

}  // namespace

const char* RightName(Right right) {
  switch (right) {
    case Right::kPublic:
      return "public";
    case Right::kRead:
      return "read";
    case Right::kRestore:
      return "restore";
    case Right::kOperate:
      return "operate";
    case Right::kAdmin:
      return "admin";
  }
  return "admin";
}

CatalogPool::Handles& Call::db() {
  if (!lease_) {
    lease_ = ctx.catalogs.Acquire();
  }
  return *lease_;
}

const std::vector<Route>& Routes() {
  using R = Right;
  static const std::vector<Route> routes = {
      {verb::get, "/api/v1/health", R::kPublic, Health},
      {verb::get, "/api/v1/downloads/{secret}", R::kPublic, RedeemDownloadLink},
      {verb::get, "/metrics", R::kRead, Metrics},
      {verb::get, "/api/v1/overview", R::kRead, Overview},
      {verb::get, "/api/v1/repository", R::kRead, RepositoryCapacity},
      {verb::get, "/api/v1/vms", R::kRead, ListVms},
      {verb::post, "/api/v1/vms", R::kAdmin, AddVm},
      {verb::get, "/api/v1/vms/{vm}", R::kRead, GetVm},
      {verb::delete_, "/api/v1/vms/{vm}", R::kAdmin, RemoveVmRoute},
      {verb::post, "/api/v1/vms/{vm}/backup", R::kOperate, BackUpVm},
      {verb::post, "/api/v1/vms/{vm}/prune", R::kAdmin, PruneVm},
      {verb::put, "/api/v1/vms/{vm}/retention", R::kAdmin, SetRetention},
      {verb::get, "/api/v1/backups", R::kRead, ListBackups},
      {verb::get, "/api/v1/backups/{vm}/{backup}", R::kRead, GetBackup},
      {verb::delete_, "/api/v1/backups/{vm}/{backup}", R::kAdmin, ForgetPoint},
      {verb::get, "/api/v1/backups/{vm}/{backup}/files/{fs}/{path*}",
       R::kRestore, GuestEntry},
      {verb::get, "/api/v1/backups/{vm}/{backup}/download/{fs}/{path*}",
       R::kRestore, DownloadGuestPath},
      {verb::post, "/api/v1/download-links", R::kRestore, IssueDownloadLink},
      {verb::get, "/api/v1/find", R::kRead, FindFiles},
      {verb::get, "/api/v1/history", R::kRead, FileHistoryOf},
      {verb::post, "/api/v1/restores", R::kRestore, StartRestore},
      {verb::get, "/api/v1/exports", R::kRead, ListExports},
      {verb::post, "/api/v1/exports", R::kOperate, StartExport},
      {verb::get, "/api/v1/exports/{id}", R::kRead, GetExport},
      {verb::delete_, "/api/v1/exports/{id}", R::kOperate, EndExport},
      {verb::post, "/api/v1/verify", R::kOperate, StartVerify},
      {verb::post, "/api/v1/copies", R::kOperate, StartCopy},
      {verb::get, "/api/v1/jobs", R::kRead, ListJobs},
      {verb::get, "/api/v1/jobs/{id}", R::kRead, GetJob},
      {verb::post, "/api/v1/jobs/{id}/cancel", R::kOperate, CancelJob},
  };
  return routes;
}

std::optional<RouteMatch> MatchRoute(http::verb method,
                                     const std::vector<std::string>& segments,
                                     std::vector<http::verb>* allowed) {
  std::vector<std::string> args;
  for (const Compiled& c : CompiledRoutes()) {
    if (!Matches(c, segments, &args)) {
      continue;
    }
    if (!SameMethod(c.route->method, method)) {
      if (allowed != nullptr) {
        allowed->push_back(c.route->method);
      }
      continue;
    }
    return RouteMatch{c.route, std::move(args)};
  }
  return std::nullopt;
}

}  // namespace sendense::web
