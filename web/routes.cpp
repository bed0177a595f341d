#include "web/routes.h"

#include "engine/catalog/names.h"
#include "engine/error.h"
#include "engine/log.h"
#include "web/access_api.h"
#include "web/api_json.h"
#include "web/backups_api.h"
#include "web/files_api.h"
#include "web/hosts_api.h"
#include "web/jobs_api.h"
#include "web/metrics.h"
#include "web/overview_api.h"
#include "web/restore_api.h"
#include "web/retention_api.h"
#include "web/targets_api.h"
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
std::string CaptureName(const std::string& s) {
  return s.substr(1, s.size() - (IsRest(s) ? 3 : 2));
}

bool Matches(const Compiled& c,
             const std::vector<std::string>& segments,
             std::vector<std::string>* args,
             std::vector<std::string>* names) {
  args->clear();
  names->clear();
  for (size_t i = 0; i < c.segments.size(); ++i) {
    const std::string& p = c.segments[i];
    if (IsRest(p)) {
      for (size_t j = i; j < segments.size(); ++j) {
        args->push_back(DecodeSegment(segments[j]));
        names->push_back(CaptureName(p));
      }
      return true;
    }
    if (i >= segments.size()) {
      return false;
    }
    if (IsCapture(p)) {
      args->push_back(DecodeSegment(segments[i]));
      names->push_back(CaptureName(p));
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
    case Right::kAppliance:
      return "appliance admin";
  }
  return "appliance admin";
}

bool Holds(const access::Principal& who, Right right) {
  switch (right) {
    case Right::kPublic:
      return true;
    case Right::kRead:
      return who.May(Role::kAudit);
    case Right::kRestore:
      return who.May(Role::kRestore);
    case Right::kOperate:
      return who.May(Role::kOperator);
    case Right::kAdmin:
      return who.May(Role::kAdmin);
    case Right::kAppliance:
      return who.ApplianceAdmin();
  }
  return false;
}

void RecordAudit(Call& call,
                 const std::string& action,
                 const std::string& target,
                 AuditOutcome outcome,
                 const std::string& detail) {
  try {
    AuditRecord r;
    r.actor = call.who.name;
    r.address = call.peer;
    r.action = action;
    r.target = target;
    r.tenant =
        call.who.tenant.empty() ? TenantOfTarget(target) : call.who.tenant;
    r.outcome = outcome;
    r.detail = detail;
    call.db().audit->Append(std::move(r));
  } catch (const std::exception& e) {
    Log(LogLevel::kWarning, "audit log: " + std::string(e.what()));
  }
}

std::string Call::Qualify(const std::string& name) const {
  const std::string qualified =
      TenantOf(name).empty() ? Qualified(name, who.tenant) : name;
  if (!Sees(qualified)) {
    throw Error(ErrorKind::kNotFound,
                "no tenant named '" + TenantOf(qualified) + "'");
  }
  return qualified;
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
      {verb::post, "/api/v1/sessions", R::kPublic, SignInRoute},
      {verb::delete_, "/api/v1/sessions/current", R::kRead, SignOut},
      {verb::get, "/api/v1/whoami", R::kRead, WhoAmI},
      {verb::get, "/metrics", R::kRead, Metrics},
      {verb::get, "/api/v1/overview", R::kRead, Overview},
      {verb::get, "/api/v1/repository", R::kRead, RepositoryCapacity},
      {verb::get, "/api/v1/vms", R::kRead, ListVms},
      {verb::post, "/api/v1/vms", R::kAdmin, AddVm, "vm add"},
      {verb::get, "/api/v1/vms/{vm}", R::kRead, GetVm},
      {verb::delete_, "/api/v1/vms/{vm}", R::kAdmin, RemoveVmRoute, "vm rm"},
      {verb::post, "/api/v1/vms/{vm}/backup", R::kOperate, BackUpVm, "backup"},
      {verb::post, "/api/v1/vms/{vm}/prune", R::kAdmin, PruneVm, "prune"},
      {verb::put, "/api/v1/vms/{vm}/retention", R::kAdmin, SetRetention,
       "retention set"},
      {verb::get, "/api/v1/backups", R::kRead, ListBackups},
      {verb::get, "/api/v1/backups/{vm}/{backup}", R::kRead, GetBackup},
      {verb::post, "/api/v1/backups/{vm}/{backup}/review", R::kOperate,
       ReviewPoint, "review"},
      {verb::delete_, "/api/v1/backups/{vm}/{backup}", R::kAdmin, ForgetPoint,
       "forget"},
      {verb::get, "/api/v1/backups/{vm}/{backup}/files/{fs}/{path*}",
       R::kRestore, GuestEntry},
      {verb::get, "/api/v1/backups/{vm}/{backup}/download/{fs}/{path*}",
       R::kRestore, DownloadGuestPath, "download"},
      {verb::post, "/api/v1/download-links", R::kRestore, IssueDownloadLink},
      {verb::get, "/api/v1/find", R::kRead, FindFiles},
      {verb::get, "/api/v1/history", R::kRead, FileHistoryOf},
      {verb::get, "/api/v1/diff", R::kRead, GuestDiffOf},
      {verb::post, "/api/v1/restores", R::kRestore, StartRestore, "restore"},
      {verb::get, "/api/v1/exports", R::kRead, ListExports},
      {verb::post, "/api/v1/exports", R::kOperate, StartExport, "export"},
      {verb::get, "/api/v1/exports/{id}", R::kRead, GetExport},
      {verb::delete_, "/api/v1/exports/{id}", R::kOperate, EndExport,
       "unexport"},
      {verb::post, "/api/v1/verify", R::kOperate, StartVerify, "verify"},
      {verb::post, "/api/v1/copies", R::kOperate, StartCopy, "copy"},
      {verb::get, "/api/v1/jobs", R::kRead, ListJobs},
      {verb::get, "/api/v1/jobs/{id}", R::kRead, GetJob},
      {verb::post, "/api/v1/jobs/{id}/cancel", R::kOperate, CancelJob,
       "cancel"},
      {verb::get, "/api/v1/hosts", R::kAppliance, ListHosts},
      {verb::get, "/api/v1/targets", R::kAppliance, ListTargets},
      {verb::post, "/api/v1/targets/{target}/prune", R::kAppliance,
       PruneTargetRoute, "prune --target"},
      {verb::post, "/api/v1/hosts", R::kAppliance, AddHostRoute, "host add"},
      {verb::delete_, "/api/v1/hosts/{host}", R::kAppliance, RemoveHostRoute,
       "host rm"},
      {verb::get, "/api/v1/tenants", R::kRead, ListTenants},
      {verb::post, "/api/v1/tenants", R::kAppliance, AddTenantRoute,
       "tenant add"},
      {verb::put, "/api/v1/tenants/{tenant}", R::kAppliance, SetTenantRoute,
       "tenant set"},
      {verb::delete_, "/api/v1/tenants/{tenant}", R::kAppliance,
       RemoveTenantRoute, "tenant rm"},
      {verb::get, "/api/v1/users", R::kAdmin, ListUsers},
      {verb::post, "/api/v1/users", R::kAdmin, AddUserRoute, "user add"},
      {verb::delete_, "/api/v1/users/{user}", R::kAdmin, RemoveUserRoute,
       "user rm"},
      {verb::put, "/api/v1/users/{user}/password", R::kAdmin, SetPasswordRoute,
       "user passwd"},
      {verb::get, "/api/v1/tokens", R::kAdmin, ListTokens},
      {verb::post, "/api/v1/tokens", R::kAdmin, CreateTokenRoute,
       "token create"},
      {verb::delete_, "/api/v1/tokens/{token}", R::kAdmin, RemoveTokenRoute,
       "token rm"},
      {verb::get, "/api/v1/audit", R::kRead, AuditRecords},
  };
  return routes;
}

std::optional<RouteMatch> MatchRoute(http::verb method,
                                     const std::vector<std::string>& segments,
                                     std::vector<http::verb>* allowed) {
  std::vector<std::string> args;
  std::vector<std::string> names;
  for (const Compiled& c : CompiledRoutes()) {
    if (!Matches(c, segments, &args, &names)) {
      continue;
    }
    if (!SameMethod(c.route->method, method)) {
      if (allowed != nullptr) {
        allowed->push_back(c.route->method);
      }
      continue;
    }
    return RouteMatch{c.route, std::move(args), std::move(names)};
  }
  return std::nullopt;
}

}  // namespace sendense::web
