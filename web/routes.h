#pragma once

// The API's routes in one table (docs/api.md): for each, its method, its
// path pattern, the right a caller needs and its handler. Handlers are
// thin: they read the request, call the engine and write JSON.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/repo/catalog_pool.h"
#include "web/api.h"

namespace sendense::web {

// What a caller may do; each right includes the ones before it. Read:
// status, lists, jobs, metrics. Restore: browse and download guest files,
// restore. Operate: back up, verify, export, copy, cancel jobs. Admin: add
// and remove VMs, set retention, prune and forget points. Public routes
// need no credential.
enum class Right { kPublic, kRead, kRestore, kOperate, kAdmin };
const char* RightName(Right right);

// One request as its handler sees it.
class Call {
 public:
  Call(ApiContext& c,
       const Request& r,
       std::vector<std::string> a,
       std::string q)
      : ctx(c), req(r), args(std::move(a)), query(std::move(q)) {}

  ApiContext& ctx;
  const Request& req;
  const std::vector<std::string> args;  // the pattern's captures, decoded
  const std::string query;              // the raw query string
  // The catalog's handles, leased on first use until the call ends.
  CatalogPool::Handles& db();

 private:
  CatalogPool::Lease lease_;
};

struct Route {
  http::verb method;  // a GET route answers HEAD too
  // "/api/v1/vms/{vm}/backup": literal segments match as they are, each
  // {name} captures one segment (decoded, checked: DecodeSegment); a
  // last "{name*}" captures the remaining segments, zero or more.
  std::string_view pattern;
  Right right;
  Response (*handle)(Call& call);
};

// Every route, in the order they are tried.
const std::vector<Route>& Routes();

// The route for `method` on the raw `segments` of a path (SplitPath), with
// its captures decoded; nullopt when none matches. `*allowed` gets the
// methods of routes whose pattern matches under another method (405).
struct RouteMatch {
  const Route* route = nullptr;
  std::vector<std::string> args;
};
std::optional<RouteMatch> MatchRoute(http::verb method,
                                     const std::vector<std::string>& segments,
                                     std::vector<http::verb>* allowed);

}  // namespace sendense::web
