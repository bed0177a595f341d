#pragma once

// The API's routes in one table (docs/api.md): for each, its method, its
// path pattern, the right a caller needs and its handler. Handlers are
// thin: they read the request, call the engine and write JSON.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/access/principal.h"
#include "engine/repo/catalog_pool.h"
#include "web/api.h"

namespace sendense::web {

// What a caller may do; each right includes the ones before it. Read:
// status, lists, jobs, metrics, the audit log (role audit). Restore:
// browse and download guest files, restore (role restore). Operate: back
// up, verify, export, copy, cancel jobs (role operator). Admin: add and
// remove VMs, users and tokens, set retention, prune and forget points
// (role admin). Appliance: tenants (an admin of no tenant). Public routes
// need no credential.
enum class Right { kPublic, kRead, kRestore, kOperate, kAdmin, kAppliance };
const char* RightName(Right right);
// Whether `who` holds `right`.
bool Holds(const access::Principal& who, Right right);

// One request as its handler sees it.
class Call {
 public:
  Call(ApiContext& c,
       const Request& r,
       std::vector<std::string> a,
       std::string q,
       const std::string& p)
      : ctx(c), req(r), args(std::move(a)), query(std::move(q)), peer(p) {}

  ApiContext& ctx;
  const Request& req;
  const std::vector<std::string> args;  // the pattern's captures, decoded
  const std::string query;              // the raw query string
  const std::string& peer;              // the client's IP address
  access::Principal who;                // who asks (set before the handler)
  std::string session;  // the session the caller signed in with, if any
  std::string csrf;     // that session's CSRF token
  // The catalog's handles, leased on first use until the call ends.
  CatalogPool::Handles& db();
  // Whether `who` may see VM (or user) `qualified`.
  bool Sees(const std::string& qualified) const { return who.Sees(qualified); }
  // A tenant's caller names its VMs and users with or without "@TENANT";
  // the qualified name. Error kNotFound (as if it did not exist) for
  // another tenant's.
  std::string Qualify(const std::string& name) const;

 private:
  CatalogPool::Lease lease_;
};

// Appends an audit record of `call`'s caller (never throws; a record that
// cannot be written is logged).
void RecordAudit(Call& call,
                 const std::string& action,
                 const std::string& target,
                 AuditOutcome outcome,
                 const std::string& detail = "");

struct Route {
  http::verb method;  // a GET route answers HEAD too
  // "/api/v1/vms/{vm}/backup": literal segments match as they are, each
  // {name} captures one segment (decoded, checked: DecodeSegment); a
  // last "{name*}" captures the remaining segments, zero or more.
  std::string_view pattern;
  Right right;
  Response (*handle)(Call& call);
  // What the audit log calls it ("backup", "forget"); nullptr: not
  // recorded (reads).
  const char* audit = nullptr;
};

// Every route, in the order they are tried.
const std::vector<Route>& Routes();

// The route for `method` on the raw `segments` of a path (SplitPath), with
// its captures decoded; nullopt when none matches. `*allowed` gets the
// methods of routes whose pattern matches under another method (405).
struct RouteMatch {
  const Route* route = nullptr;
  std::vector<std::string> args;
  std::vector<std::string> names;  // each arg's capture name ("vm")
};
std::optional<RouteMatch> MatchRoute(http::verb method,
                                     const std::vector<std::string>& segments,
                                     std::vector<http::verb>* allowed);

}  // namespace sendense::web
