#include "web/api.h"

#include "engine/error.h"
#include "web/api_json.h"
#include "web/http_errors.h"
#include "web/routes.h"
#include "web/url.h"

namespace sendense::web {
namespace {

// Constant-time comparison: how long it takes says nothing of the token.
bool SameToken(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |=
        static_cast<unsigned char>(a[i] ^ b[i % (b.empty() ? 1 : b.size())]);
  }
  return diff == 0 && !b.empty();
}

bool HasToken(const ApiContext& ctx, const Request& req) {
  const auto auth = req.find(http::field::authorization);
  const std::string given = auth == req.end() ? "" : std::string(auth->value());
  return given.rfind("Bearer ", 0) == 0 &&
         SameToken(given.substr(7), ctx.token);
}

Response Unauthorized() {
  Response r = Fail(401, "missing or wrong bearer token");
  r.headers.push_back({"WWW-Authenticate", "Bearer"});
  return r;
}

// Finds the request's route, checks the caller may use it, and calls it.
// Nothing but a public route is shown to a caller without a credential,
// not even whether a route exists.
Response Dispatch(ApiContext& ctx, const Request& req, bool authenticated) {
  std::string query;
  const auto segments = SplitPath(std::string(req.target()), &query);
  std::vector<http::verb> allowed;
  std::optional<RouteMatch> match;
  try {
    match = MatchRoute(req.method(), segments, &allowed);
  } catch (const Error&) {
    if (!authenticated && !HasToken(ctx, req)) {
      return Unauthorized();
    }
    throw;
  }
  const bool open = match && match->route->right == Right::kPublic;
  if (!open && !authenticated && !HasToken(ctx, req)) {
    return Unauthorized();
  }
  if (!match) {
    if (allowed.empty()) {
      return Fail(404, "no such route");
    }
    std::string methods;
    for (const auto m : allowed) {
      methods +=
          (methods.empty() ? "" : ", ") + std::string(http::to_string(m));
    }
    Response r = Fail(405, "this route takes " + methods);
    r.headers.push_back({"Allow", methods});
    return r;
  }
  Call call(ctx, req, std::move(match->args), query);
  return match->route->handle(call);
}

}  // namespace

Response RouteAuthenticated(ApiContext& ctx, const Request& req) {
  return Dispatch(ctx, req, true);
}

Response HandleApi(ApiContext& ctx, const Request& req) {
  try {
    return Dispatch(ctx, req, false);
  } catch (const Error& e) {
    return Fail(ToHttpStatus(e.kind()), ApiMessage(e));
  } catch (const std::exception& e) {
    return Fail(500, e.what());
  }
}

}  // namespace sendense::web
