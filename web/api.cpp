#include "web/api.h"

#include "engine/access/credentials.h"
#include "engine/catalog/names.h"
#include "engine/error.h"
#include "engine/log.h"
#include "web/api_json.h"
#include "web/http_errors.h"
#include "web/routes.h"
#include "web/url.h"

namespace sendense::web {
namespace {

template <typename Key>
std::string Header(const Request& req, Key key) {
  const auto it = req.find(key);
  return it == req.end() ? "" : std::string(it->value());
}

// The value of cookie `name` in the request's Cookie header, or "".
std::string CookieValue(const Request& req, const std::string& name) {
  const std::string cookies = Header(req, http::field::cookie);
  size_t at = 0;
  while (at < cookies.size()) {
    size_t end = cookies.find(';', at);
    if (end == std::string::npos) {
      end = cookies.size();
    }
    std::string pair = cookies.substr(at, end - at);
    pair.erase(0, pair.find_first_not_of(' '));
    if (pair.rfind(name + "=", 0) == 0) {
      return pair.substr(name.size() + 1);
    }
    at = end + 1;
  }
  return "";
}

bool Changes(const Request& req) {
  return req.method() != http::verb::get && req.method() != http::verb::head;
}

Response Unauthorized() {
  Response r = Fail(401, "sign in, or give a bearer token");
  r.headers.push_back({"WWW-Authenticate", "Bearer"});
  return r;
}

// Who the request's credential says: the appliance's token, a user's
// token, or a session cookie (whose changes must carry its CSRF token).
// nullopt: none, or a wrong one. Error kDenied for a session's change
// without its CSRF token.
std::optional<access::Principal> Authenticate(ApiContext& ctx, Call& call) {
  const std::string auth = Header(call.req, http::field::authorization);
  if (auth.rfind("Bearer ", 0) == 0) {
    const std::string given = auth.substr(7);
    if (access::SameSecret(given, ctx.token)) {
      return access::ApplianceToken();
    }
    return ctx.tokens.Resolve(
        given, [&]() -> Accounts& { return *call.db().accounts; });
  }
  const std::string session = CookieValue(call.req, kSessionCookie);
  if (session.empty()) {
    return std::nullopt;
  }
  const auto s = ctx.sessions.Touch(session);
  if (!s) {
    return std::nullopt;
  }
  if (Changes(call.req) &&
      !access::SameSecret(Header(call.req, "X-CSRF-Token"), s->csrf)) {
    throw Error(ErrorKind::kDenied,
                "this change lacks the session's CSRF token (X-CSRF-Token)");
  }
  call.session = session;
  call.csrf = s->csrf;
  return s->who;
}

// The VM, user or tenant a request names, as the route's captures, the
// query's "vm" or the body's "vm" give it: none may be another tenant's.
// Error kNotFound, in the words a missing one gets, otherwise.
void RequireVisible(const Call& call, const RouteMatch& match) {
  const auto check = [&](const std::string& kind, const std::string& name) {
    if (name.empty()) {
      return;
    }
    const bool visible =
        kind == "tenant" ? call.who.tenant.empty() || call.who.tenant == name
                         : call.Sees(name);
    if (!visible) {
      throw Error(ErrorKind::kNotFound,
                  "no " + std::string(kind == "vm" ? "VM" : kind) + " named '" +
                      name + "'");
    }
  };
  for (size_t i = 0; i < match.args.size(); ++i) {
    const std::string& name = match.names[i];
    if (name == "vm" || name == "user" || name == "tenant") {
      check(name, match.args[i]);
    }
  }
  check("vm", QueryParam(call.query, "vm"));
  check("tenant", QueryParam(call.query, "tenant"));
  if (Changes(call.req) && !call.req.body().empty()) {
    const auto body = nlohmann::json::parse(call.req.body(), nullptr, false);
    if (body.is_object()) {
      for (const char* key : {"vm", "user"}) {
        const auto it = body.find(key);
        if (it != body.end() && it->is_string()) {
          check(key, it->get<std::string>());
        }
      }
    }
  }
}

// What the audit log names as the object of a request: its captures
// ("web1@acme/2026-12-01T02.00.00Z"), else the body's "vm" or "name".
std::string AuditTarget(const Call& call, const RouteMatch& match) {
  std::string target;
  for (const auto& arg : match.args) {
    target += (target.empty() ? "" : "/") + arg;
  }
  if (target.empty() && !call.req.body().empty()) {
    const auto body = nlohmann::json::parse(call.req.body(), nullptr, false);
    if (body.is_object()) {
      for (const char* key : {"vm", "user", "name"}) {
        if (body.contains(key) && body[key].is_string()) {
          return body[key].get<std::string>();
        }
      }
    }
  }
  return target;
}

void Record(Call& call,
            const RouteMatch& match,
            const std::string& action,
            AuditOutcome outcome,
            const std::string& detail) {
  RecordAudit(call, action, AuditTarget(call, match), outcome, detail);
}

// Runs the matched route for `call.who`: its right, what it names, the
// handler, and the audit record of a change.
Response Run(Call& call, const RouteMatch& match) {
  const Route& route = *match.route;
  if (!Holds(call.who, route.right)) {
    RequireVisible(call, match);  // another tenant's: 404 before 403
    const std::string why =
        "your role (" + std::string(RoleName(call.who.role)) +
        (call.who.tenant.empty() ? "" : " of a tenant") +
        ") may not do this: it needs " + RightName(route.right);
    if (route.audit != nullptr) {
      Record(call, match, route.audit, AuditOutcome::kRefused, why);
    }
    return Fail(403, why);
  }
  RequireVisible(call, match);
  if (route.audit == nullptr) {
    return route.handle(call);
  }
  Response out;
  try {
    out = route.handle(call);
  } catch (const Error& e) {
    Record(call, match, route.audit,
           e.kind() == ErrorKind::kDenied || e.kind() == ErrorKind::kNoSpace
               ? AuditOutcome::kRefused
               : AuditOutcome::kFailed,
           e.what());
    throw;
  }
  Record(call, match, route.audit,
         out.status < 400 ? AuditOutcome::kOk : AuditOutcome::kFailed,
         out.status < 400 ? "" : out.body);
  return out;
}

// Finds the request's route, finds who asks, checks they may, and calls
// it. Nothing but a public route is shown to a caller without a
// credential, not even whether a route exists.
Response Dispatch(ApiContext& ctx,
                  const Request& req,
                  const std::string& peer,
                  const std::optional<access::Principal>& given) {
  std::string query;
  const auto segments = SplitPath(std::string(req.target()), &query);
  std::vector<http::verb> allowed;
  std::optional<RouteMatch> match;
  std::optional<Error> bad_path;
  try {
    match = MatchRoute(req.method(), segments, &allowed);
  } catch (const Error& e) {
    bad_path = e;
  }
  Call call(ctx, req, match ? match->args : std::vector<std::string>{}, query,
            peer);
  const bool open = match && !bad_path && match->route->right == Right::kPublic;
  std::optional<access::Principal> who = given;
  if (!who && !open) {
    who = Authenticate(ctx, call);
    if (!who) {
      return Unauthorized();
    }
  }
  if (bad_path) {
    throw *bad_path;
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
  if (who) {
    call.who = *who;
  }
  if (open) {
    return match->route->handle(call);
  }
  return Run(call, *match);
}

Response Answer(ApiContext& ctx,
                const Request& req,
                const std::string& peer,
                const std::optional<access::Principal>& who) {
  try {
    return Dispatch(ctx, req, peer, who);
  } catch (const Error& e) {
    return Fail(ToHttpStatus(e.kind()), ApiMessage(e));
  } catch (const std::exception& e) {
    return Fail(500, e.what());
  }
}

}  // namespace

Response RouteAuthenticated(ApiContext& ctx,
                            const Request& req,
                            const access::Principal& who,
                            const std::string& peer) {
  return Answer(ctx, req, peer, who);
}

Response HandleApi(ApiContext& ctx,
                   const Request& req,
                   const std::string& peer) {
  return Answer(ctx, req, peer, std::nullopt);
}

}  // namespace sendense::web
