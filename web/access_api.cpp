#include "web/access_api.h"

#include <thread>

#include "engine/access/credentials.h"
#include "engine/catalog/names.h"
#include "engine/error.h"
#include "engine/repo/known_vms.h"
#include "engine/repo/tenant_usage.h"
#include "engine/time.h"
#include "web/api_json.h"
#include "web/url.h"

namespace sendense::web {
namespace {

using json = nlohmann::json;

std::string Field(const json& body, const char* key, bool required = true) {
  const auto it = body.find(key);
  if (it == body.end() || !it->is_string()) {
    if (!required) {
      return "";
    }
    throw Error(ErrorKind::kInvalidArgument,
                std::string("\"") + key + "\" is needed, as a string");
  }
  return it->get<std::string>();
}

std::optional<int64_t> Limit(const json& body, const char* key) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) {
    return std::nullopt;
  }
  if (!it->is_number_integer()) {
    throw Error(ErrorKind::kInvalidArgument,
                std::string("\"") + key + "\" must be a whole number or null");
  }
  return it->get<int64_t>();
}

json PrincipalJson(const Call& call, const access::Principal& who) {
  json j = {{"name", who.name},
            {"tenant", who.tenant.empty() ? json(nullptr) : json(who.tenant)},
            {"role", RoleName(who.role)},
            {"appliance_admin", who.ApplianceAdmin()}};
  json rights = json::array();
  for (Right r : {Right::kRead, Right::kRestore, Right::kOperate, Right::kAdmin,
                  Right::kAppliance}) {
    if (Holds(who, r)) {
      rights.push_back(RightName(r));
    }
  }
  j["rights"] = rights;
  if (!call.csrf.empty()) {
    j["csrf_token"] = call.csrf;
  }
  return j;
}

std::string SessionCookie(const Call& call,
                          const std::string& value,
                          bool expire) {
  return std::string(kSessionCookie) + "=" + value +
         "; Path=/; HttpOnly; SameSite=Strict" +
         (call.ctx.tls ? "; Secure" : "") + (expire ? "; Max-Age=0" : "");
}

// The user a tenant's admin names: within its tenant.
std::string VisibleUser(Call& call, const std::string& name) {
  const auto user = call.db().accounts->FindUser(name);
  if (!user || !call.Sees(user->name)) {
    throw Error(ErrorKind::kNotFound, "no user named '" + name + "'");
  }
  return user->name;
}

}  // namespace

// Public: a user and password (or a token) for a session cookie. Failed
// tries from one address are slowed down, then refused for a minute.
Response SignInRoute(Call& call) {
  ApiContext& ctx = call.ctx;
  const json body = BodyJson(call.req.body());
  const std::string user = Field(body, "user", false);
  const std::string password = Field(body, "password", false);
  const std::string token = Field(body, "token", false);
  if ((user.empty() || password.empty()) && token.empty()) {
    return Fail(400, "give \"user\" and \"password\", or \"token\"");
  }
  call.who.name = user.empty() ? "a token" : user;
  std::chrono::milliseconds delay{0};
  if (const auto wait = ctx.sign_ins.Admit(call.peer, &delay)) {
    const std::string why =
        "too many failed sign-ins from " + call.peer + ": try again in " +
        std::to_string(*wait) +
        " seconds (a locked-out admin sets a new password on the "
        "appliance: sendense user passwd NAME)";
    RecordAudit(call, "sign-in", user, AuditOutcome::kRefused, why);
    Response r = Fail(429, why);
    r.headers.push_back({"Retry-After", std::to_string(*wait)});
    return r;
  }
  std::this_thread::sleep_for(delay);
  std::optional<access::Principal> who;
  if (!token.empty()) {
    who = access::SameSecret(token, ctx.token)
              ? std::optional(access::ApplianceToken())
              : access::PrincipalOfToken(*call.db().accounts, token);
  } else {
    who = access::SignIn(*call.db().accounts, user, password);
  }
  if (!who) {
    ctx.sign_ins.Failed(call.peer);
    RecordAudit(call, "sign-in", user, AuditOutcome::kFailed,
                "wrong user name, password or token");
    return Fail(401, "wrong user name, password or token");
  }
  ctx.sign_ins.Succeeded(call.peer);
  call.who = *who;
  call.session = ctx.sessions.Start(*who, &call.csrf);
  RecordAudit(call, "sign-in", "", AuditOutcome::kOk);
  json j = PrincipalJson(call, *who);
  j["idle_seconds"] = ctx.sessions.idle().count();
  Response r = Json(201, j);
  r.headers.push_back({"Set-Cookie", SessionCookie(call, call.session, false)});
  return r;
}

Response SignOut(Call& call) {
  if (!call.session.empty()) {
    call.ctx.sessions.End(call.session);
  }
  RecordAudit(call, "sign-out", "", AuditOutcome::kOk);
  Response r = Json(200, {{"signed_out", true}});
  r.headers.push_back({"Set-Cookie", SessionCookie(call, "", true)});
  return r;
}

Response WhoAmI(Call& call) {
  return Json(200, PrincipalJson(call, call.who));
}

Response ListTenants(Call& call) {
  auto& db = call.db();
  json list = json::array();
  for (const auto& u : MeasureTenants(call.ctx.repo, *db.accounts,
                                      KnownVms(*db.catalog, *db.vms))) {
    if (call.who.tenant.empty() || call.who.tenant == u.tenant.name) {
      list.push_back(TenantUsageJson(u));
    }
  }
  return Json(200, {{"tenants", list}});
}

Response AddTenantRoute(Call& call) {
  const json body = BodyJson(call.req.body());
  Tenant t;
  t.name = Field(body, "name");
  t.quota_bytes = Limit(body, "quota_bytes");
  t.max_vms = Limit(body, "max_vms");
  call.db().accounts->AddTenant(t);
  return Json(201, TenantJson(*call.db().accounts->FindTenant(t.name)));
}

Response SetTenantRoute(Call& call) {
  const json body = BodyJson(call.req.body());
  Tenant t = call.db().accounts->RequireTenant(call.args[0]);
  if (body.contains("quota_bytes")) {
    t.quota_bytes = Limit(body, "quota_bytes");
  }
  if (body.contains("max_vms")) {
    t.max_vms = Limit(body, "max_vms");
  }
  call.db().accounts->UpdateTenant(t);
  return Json(200, TenantJson(t));
}

Response RemoveTenantRoute(Call& call) {
  call.db().accounts->RemoveTenant(call.args[0]);
  return Json(200, {{"removed", call.args[0]}});
}

Response ListUsers(Call& call) {
  json list = json::array();
  for (const auto& u : call.db().accounts->Users()) {
    if (call.Sees(u.name)) {
      list.push_back(UserJson(u));
    }
  }
  return Json(200, {{"users", list}});
}

// {"name", "role", "password"} or {"name", "role", "realm": "pam"}; a
// tenant's admin adds users of its tenant ("tenant" for the appliance's).
Response AddUserRoute(Call& call) {
  const json body = BodyJson(call.req.body());
  User u;
  u.name = call.Qualify(
      Qualified(Field(body, "name"), Field(body, "tenant", false)));
  u.role = ParseRole(Field(body, "role"));
  u.realm =
      Field(body, "realm", false) == "pam" ? Realm::kPam : Realm::kSendense;
  if (u.realm == Realm::kSendense) {
    u.password_hash = access::HashPassword(Field(body, "password"));
  }
  call.db().accounts->AddUser(u);
  return Json(201, UserJson(*call.db().accounts->FindUser(u.name)));
}

Response RemoveUserRoute(Call& call) {
  const std::string user = VisibleUser(call, call.args[0]);
  call.db().accounts->RemoveUser(user);
  return Json(200, {{"removed", user}});
}

Response SetPasswordRoute(Call& call) {
  const json body = BodyJson(call.req.body());
  const std::string user = VisibleUser(call, call.args[0]);
  call.db().accounts->SetPasswordHash(
      user, access::HashPassword(Field(body, "password")));
  return Json(200, {{"user", user}, {"password_set", true}});
}

Response ListTokens(Call& call) {
  json list = json::array();
  for (const auto& t : call.db().accounts->Tokens()) {
    if (call.Sees(t.user)) {
      list.push_back(TokenJson(t));
    }
  }
  return Json(200, {{"tokens", list}});
}

// {"user", "name", "role" (at most the user's), "expires_in_days"}: the
// secret is in this reply only.
Response CreateTokenRoute(Call& call) {
  const json body = BodyJson(call.req.body());
  auto& accounts = *call.db().accounts;
  const User user =
      accounts.RequireUser(VisibleUser(call, Field(body, "user")));
  Token t;
  t.user = user.name;
  t.name = Field(body, "name", false);
  if (t.name.empty()) {
    t.name = "default";
  }
  const std::string role = Field(body, "role", false);
  t.role = role.empty() ? user.role : ParseRole(role);
  if (const auto days = Limit(body, "expires_in_days")) {
    if (*days < 1 || *days > 36500) {
      return Fail(400, "\"expires_in_days\" must be 1 to 36500");
    }
    t.expires_at = IsoTime(std::chrono::system_clock::now() +
                           std::chrono::hours(24 * *days));
  }
  const std::string secret = access::NewTokenSecret();
  t.secret_hash = access::TokenHash(secret);
  accounts.AddToken(t);
  json j = TokenJson(*accounts.FindToken(t.user, t.name));
  j["secret"] = secret;
  return Json(201, j);
}

Response RemoveTokenRoute(Call& call) {
  const int64_t id = ParseId(call.args[0], "token");
  for (const auto& t : call.db().accounts->Tokens()) {
    if (t.id == id && call.Sees(t.user)) {
      call.db().accounts->RemoveToken(id);
      return Json(200, {{"removed", TokenJson(t)}});
    }
  }
  throw Error(ErrorKind::kNotFound, "no such token");
}

// ?tenant= (the appliance's callers), ?since=ISO, ?limit= (1000).
Response AuditRecords(Call& call) {
  std::optional<std::string> tenant;
  if (!call.who.tenant.empty()) {
    tenant = call.who.tenant;
  } else if (const std::string t = QueryParam(call.query, "tenant");
             !t.empty()) {
    tenant = t;
  }
  const std::string limit_text = QueryParam(call.query, "limit");
  size_t limit = 1000;
  if (!limit_text.empty()) {
    limit = limit_text.size() <= 6 && limit_text.find_first_not_of(
                                          "0123456789") == std::string::npos
                ? std::stoul(limit_text)
                : 0;
    if (limit < 1 || limit > 100000) {
      return Fail(400, "limit must be 1 to 100000");
    }
  }
  auto& log = *call.db().audit;
  log.Expire();
  json list = json::array();
  for (const auto& r :
       log.Query(tenant, QueryParam(call.query, "since"), limit)) {
    list.push_back(AuditJson(r));
  }
  return Json(200, {{"records", list}});
}

}  // namespace sendense::web
