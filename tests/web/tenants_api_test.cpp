// Tenants, roles and tokens through the real binary over loopback: a
// role-by-route-by-tenant matrix generated from the route table, sign-in
// sessions with CSRF and throttling, the audit log, and secrets that never
// show.

#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "tests/web/api_fixture.h"
#include "web/routes.h"

namespace sendense::test {
namespace {

using web::Right;
using web::Route;

const char* const kRoles[] = {"admin", "operator", "restore", "audit"};

Right RightOfRole(const std::string& role) {
  return role == "admin"      ? Right::kAdmin
         : role == "operator" ? Right::kOperate
         : role == "restore"  ? Right::kRestore
                              : Right::kRead;
}

std::string ReplaceAll(std::string s,
                       const std::string& from,
                       const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos;
       at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

class TenantsApiTest : public ApiTest {
 protected:
  // A caller: its token, tenant ("" for the appliance's) and role.
  struct Caller {
    std::string token, tenant, role;
  };

  // What the captures of a route stand for, for one tenant's objects.
  struct Objects {
    std::string vm, backup, tenant, user, job, export_id, token;
  };

  void AddUser(const std::string& name,
               const std::string& tenant,
               const std::string& role) {
    const auto r =
        RunCommand("echo 'a-good-password' | " + std::string(SENDENSE_BINARY) +
                   " -r " + Quote(repo_) + " user add " + name +
                   (tenant.empty() ? "" : " --tenant " + tenant) + " --role " +
                   role + " 2>&1");
    ASSERT_EQ(r.status, 0) << r.output;
  }

  json CreateToken(const std::string& user) {
    return SendenseJson("token create --user " + user + " --json");
  }

  HttpReply As(const std::string& token,
               const std::string& method,
               const std::string& path,
               const std::string& body = "") {
    return Http(method, base_ + path, {"Authorization: Bearer " + token}, body);
  }

  // The path and body of `route` naming `o`'s objects: captures, the
  // query's vm, and a body with everything a change may name.
  std::pair<std::string, std::string> RequestFor(const Route& route,
                                                 const Objects& o) {
    std::string path(route.pattern);
    const std::map<std::string, std::string> captures = {
        {"{vm}", o.vm},
        {"{backup}", o.backup},
        {"{fs}", "sda1"},
        {"{path*}", "etc/hostname"},
        {"{tenant}", o.tenant},
        {"{user}", o.user},
        {"{token}", o.token},
        {"{secret}", "00"},
        {"{host}", "nohost"},      // the appliance's, never a tenant's
        {"{target}", "notarget"},  // the appliance's too
        {"{id}",
         path.find("/exports/") != std::string::npos ? o.export_id : o.job}};
    for (const auto& [capture, value] : captures) {
      path = ReplaceAll(path, capture, value);
    }
    EXPECT_EQ(path.find('{'), std::string::npos)
        << route.pattern << ": a capture the matrix does not know; say what "
        << "it names and whether another tenant may see it";
    if (route.method == web::http::verb::get) {
      path += "?vm=" + o.vm + "&pattern=*&path=/etc/hostname";
      return {path, ""};
    }
    const json body = {{"vm", o.vm},
                       {"point", o.backup},
                       {"disk", "sda"},
                       {"user", o.user},
                       {"to", dir_ / "nowhere"},
                       {"path", "/api/v1/backups/" + o.vm + "/" + o.backup +
                                    "/download/sda1/etc/hostname"}};
    return {path, body.dump()};
  }

  static std::string Method(const Route& r) {
    return std::string(web::http::to_string(r.method));
  }

  std::map<std::string, std::string> point_of_;  // VM -> its backup
};

TEST_F(TenantsApiTest, EveryRoleOnEveryRouteSeesOnlyItsTenant) {
  MakeSource();
  NbdServer server(dir_.path(), QemuNbdCommand(source_, "b0"));
  for (const std::string t : {"acme", "globex"}) {
    ASSERT_EQ(Sendense("tenant add " + t).status, 0);
    ASSERT_EQ(
        Sendense("vm add web1 --tenant " + t + " --disk sda=" + server.uri())
            .status,
        0);
    const auto b = SendenseJson("backup --vm web1@" + t + " --json");
    point_of_["web1@" + t] = b["backup"];
  }
  std::vector<Caller> callers = {{token_, "", "admin"}};
  for (const std::string role : kRoles) {
    for (const std::string t : {"acme", "globex", ""}) {
      if (t.empty() && role == "admin") {
        continue;  // the appliance's admin: the api-token above
      }
      AddUser(role, t, role);
      const std::string user = role + (t.empty() ? "" : "@" + t);
      callers.push_back({CreateToken(user)["secret"], t, role});
    }
  }
  const std::string globex_token_id = std::to_string(
      SendenseJson("token list --user admin@globex --json")["tokens"][0]["id"]
          .get<int64_t>());
  Serve();
  // A job and an export of globex's, by the appliance's admin.
  const auto job = CallJson("POST", "/api/v1/vms/web1@globex/backup", "", 202);
  WaitForJob(job["id"]);
  const auto exported = CallJson(
      "POST", "/api/v1/exports",
      json{{"vm", "web1@globex"}, {"point", point_of_["web1@globex"]}}.dump(),
      201);
  const std::string export_id = std::to_string(exported["id"].get<int64_t>());

  const auto own = [&](const Caller& c) {
    const std::string t = c.tenant.empty() ? "acme" : c.tenant;
    return Objects{"web9@" + t, point_of_["web1@" + t],
                   t,           "nobody@" + t,
                   "999999",    "999999",
                   "999999"};
  };
  int checked = 0;
  for (const Route& route : web::Routes()) {
    if (route.right == Right::kPublic) {
      continue;
    }
    for (const Caller& c : callers) {
      // Its right, on its own (missing) objects: 403 exactly when its role
      // lacks the route's right.
      const auto [path, body] = RequestFor(route, own(c));
      const auto r = As(c.token, Method(route), path, body);
      const bool may = route.right == Right::kAppliance
                           ? c.tenant.empty() && c.role == "admin"
                           : RightOfRole(c.role) >= route.right;
      EXPECT_EQ(r.status == 403, !may)
          << c.role << "@" << c.tenant << " " << Method(route) << " " << path
          << ": " << r.status << " " << r.body;
      EXPECT_NE(r.status, 401) << path;
      ++checked;
      if (c.tenant != "acme") {
        continue;
      }
      // Another tenant's objects: never found, word for word as a missing
      // one of that tenant, whatever the role.
      const Objects real{"web1@globex",
                         point_of_["web1@globex"],
                         "globex",
                         "admin@globex",
                         std::to_string(job["id"].get<int64_t>()),
                         export_id,
                         globex_token_id};
      Objects missing = real;
      missing.vm = "web9@globex";
      missing.user = "nobody@globex";
      missing.tenant = "nosuch";
      missing.job = missing.export_id = missing.token = "999999";
      const auto [real_path, real_body] = RequestFor(route, real);
      const auto [missing_path, missing_body] = RequestFor(route, missing);
      const auto seen = As(c.token, Method(route), real_path, real_body);
      const auto unseen =
          As(c.token, Method(route), missing_path, missing_body);
      EXPECT_EQ(seen.status, unseen.status)
          << c.role << "@acme " << Method(route) << " " << real_path << ": "
          << seen.body << " vs " << unseen.body;
      EXPECT_NE(seen.status / 100, 2) << c.role << "@acme reached globex's "
                                      << real_path << ": " << seen.body;
      EXPECT_EQ(seen.body.find("globex's"), std::string::npos);
      std::string a = seen.body, b = unseen.body;
      for (const auto& [from, to] :
           std::vector<std::pair<std::string, std::string>>{
               {"web1@globex", "X"},
               {"web9@globex", "X"},
               {"admin@globex", "U"},
               {"nobody@globex", "U"},
               {"nosuch", "T"},
               {"globex", "T"},
               {std::to_string(job["id"].get<int64_t>()), "N"},
               {export_id, "N"},
               {globex_token_id, "N"},
               {"999999", "N"}}) {
        a = ReplaceAll(a, from, to);
        b = ReplaceAll(b, from, to);
      }
      if (seen.status != 403) {  // a role refused first tells nothing
        EXPECT_EQ(a, b) << Method(route) << " " << real_path
                        << ": another tenant's object answers unlike a "
                           "missing one";
      }
    }
  }
  EXPECT_GT(checked, 300);

  // Every listing an acme caller can read leaves globex out entirely.
  for (const Caller& c : callers) {
    if (c.tenant != "acme") {
      continue;
    }
    for (const Route& route : web::Routes()) {
      if (route.method != web::http::verb::get ||
          route.pattern.find('{') != std::string_view::npos ||
          RightOfRole(c.role) < route.right) {
        continue;
      }
      const std::string path =
          std::string(route.pattern) +
          (route.pattern == "/api/v1/find"      ? "?pattern=*"
           : route.pattern == "/api/v1/history" ? "?vm=web1@acme&path=/etc"
           : route.pattern == "/api/v1/diff"
               ? "?vm=web1@acme&from=nosuch&to=nosuch"
               : "");
      const auto r = As(c.token, "GET", path);
      // (Nothing is indexed here: history finds no version and diff no
      // point, and they say so.)
      const bool finds_nothing =
          route.pattern == "/api/v1/history" || route.pattern == "/api/v1/diff";
      EXPECT_EQ(r.status, finds_nothing ? 404 : 200)
          << c.role << " " << path << ": " << r.body;
      EXPECT_EQ(r.body.find("globex"), std::string::npos)
          << c.role << "@acme " << path << " shows globex: " << r.body;
    }
    // Its own VM is there.
    const auto vms = As(c.token, "GET", "/api/v1/vms");
    EXPECT_NE(vms.body.find("web1@acme"), std::string::npos) << vms.body;
  }
  CallJson("DELETE", "/api/v1/exports/" + export_id);
}

TEST_F(TenantsApiTest, SignInSessionsCsrfThrottlingAndTheAuditLog) {
  ASSERT_EQ(Sendense("tenant add acme").status, 0);
  AddUser("helpdesk", "acme", "restore");
  Serve();
  // A wrong password, then the right one.
  auto r =
      Http("POST", base_ + "/api/v1/sessions", {},
           json{{"user", "helpdesk@acme"}, {"password", "wrong-one"}}.dump());
  EXPECT_EQ(r.status, 401) << r.body;
  const auto t0 = std::chrono::steady_clock::now();
  r = Http(
      "POST", base_ + "/api/v1/sessions", {},
      json{{"user", "helpdesk@acme"}, {"password", "a-good-password"}}.dump());
  const double sign_in_ms = std::chrono::duration<double, std::milli>(
                                std::chrono::steady_clock::now() - t0)
                                .count();
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_GT(sign_in_ms, 20) << "Argon2id costs something";
  EXPECT_LT(sign_in_ms, 2000);
  const auto me = json::parse(r.body);
  EXPECT_EQ(me["role"], "restore");
  EXPECT_EQ(me["tenant"], "acme");
  const std::string cookie = r.headers["set-cookie"];
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos) << cookie;
  const std::string session = cookie.substr(0, cookie.find(';'));
  const std::string csrf = me["csrf_token"];
  // Reads work with the cookie; a change needs its CSRF token too, and a
  // restore user may not delete whatever it sends.
  r = Http("GET", base_ + "/api/v1/whoami", {"Cookie: " + session});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["csrf_token"], csrf);
  r = Http("DELETE", base_ + "/api/v1/vms/web1@acme", {"Cookie: " + session});
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("CSRF"), std::string::npos) << r.body;
  r = Http("DELETE", base_ + "/api/v1/vms/web1@acme",
           {"Cookie: " + session, "X-CSRF-Token: " + csrf});
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("restore"), std::string::npos) << r.body;
  // Signed out, the cookie is worth nothing.
  r = Http("DELETE", base_ + "/api/v1/sessions/current",
           {"Cookie: " + session, "X-CSRF-Token: " + csrf});
  EXPECT_EQ(r.status, 200) << r.body;
  r = Http("GET", base_ + "/api/v1/whoami", {"Cookie: " + session});
  EXPECT_EQ(r.status, 401) << r.body;
  // Failing again and again: slowed down, and the tenth try in a minute is
  // refused even with the right password.
  std::vector<long> statuses;
  for (int i = 0; i < 9; ++i) {
    statuses.push_back(Http("POST", base_ + "/api/v1/sessions", {},
                            json{{"user", "helpdesk@acme"},
                                 {"password", "guess-" + std::to_string(i)}}
                                .dump())
                           .status);
  }
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 401), 9)
      << "a good sign-in forgets the failures before it";
  r = Http(
      "POST", base_ + "/api/v1/sessions", {},
      json{{"user", "helpdesk@acme"}, {"password", "a-good-password"}}.dump());
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_NE(r.body.find("user passwd"), std::string::npos) << r.body;
  EXPECT_FALSE(r.headers["retry-after"].empty());
  // The audit log has the sign-ins, ok, failed and refused, with the
  // address; and no password anywhere.
  const auto audit = CallJson("GET", "/api/v1/audit?tenant=acme");
  std::map<std::string, int> outcomes;
  for (const auto& rec : audit["records"]) {
    if (rec["action"] == "sign-in") {
      ++outcomes[rec["outcome"].get<std::string>()];
      EXPECT_EQ(rec["address"], "127.0.0.1");
    }
  }
  EXPECT_EQ(outcomes["ok"], 1);
  EXPECT_GE(outcomes["failed"], 9);
  EXPECT_GE(outcomes["refused"], 1);
  const std::string all = audit.dump() + Slurp(log_) +
                          Slurp(repo_ + "/catalog.db") +
                          Slurp(repo_ + "/catalog.db-wal");
  for (const std::string secret : {"a-good-password", "guess-3", "wrong-one"}) {
    EXPECT_EQ(all.find(secret), std::string::npos) << secret << " leaked";
  }
}

// serve --session-idle: a session used keeps going, one left idle ends.
TEST_F(TenantsApiTest, IdleSessionsEnd) {
  ASSERT_EQ(Sendense("tenant add acme").status, 0);
  AddUser("helpdesk", "acme", "restore");
  Serve("--no-index --session-idle 2");
  auto r = Http(
      "POST", base_ + "/api/v1/sessions", {},
      json{{"user", "helpdesk@acme"}, {"password", "a-good-password"}}.dump());
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(json::parse(r.body)["idle_seconds"], 2);
  const std::string cookie = r.headers["set-cookie"];
  const std::string session = cookie.substr(0, cookie.find(';'));
  for (int i = 0; i < 4; ++i) {  // 4 s in all, never 2 s idle
    std::this_thread::sleep_for(std::chrono::seconds(1));
    r = Http("GET", base_ + "/api/v1/whoami", {"Cookie: " + session});
    ASSERT_EQ(r.status, 200) << "used every second, yet ended: " << r.body;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  r = Http("GET", base_ + "/api/v1/whoami", {"Cookie: " + session});
  EXPECT_EQ(r.status, 401) << r.body;
}

TEST_F(TenantsApiTest, TokensAreScopedHashedAndExpire) {
  ASSERT_EQ(Sendense("tenant add acme").status, 0);
  AddUser("ops", "acme", "operator");
  // A token above its user's role is refused; one below it is its own.
  EXPECT_NE(Sendense("token create --user ops@acme --role admin").status, 0);
  const auto t = SendenseJson(
      "token create --user ops@acme --role audit --name ro --expires 1d "
      "--json");
  const std::string secret = t["secret"];
  EXPECT_EQ(secret.rfind("sendense_", 0), 0u);
  EXPECT_FALSE(t["expires_at"].is_null());
  Serve();
  auto r = As(secret, "GET", "/api/v1/whoami");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["role"], "audit");
  r = As(secret, "POST", "/api/v1/verify", R"({"vm":"web1@acme"})");
  EXPECT_EQ(r.status, 403) << r.body;
  // Last use is recorded; the secret is kept only as a hash.
  const auto listed = SendenseJson("token list --user ops@acme --json");
  EXPECT_FALSE(listed["tokens"][0]["last_used_at"].is_null());
  const std::string stored =
      Slurp(repo_ + "/catalog.db") + Slurp(repo_ + "/catalog.db-wal");
  EXPECT_EQ(stored.find(secret), std::string::npos);
  EXPECT_EQ(listed.dump().find(secret), std::string::npos);
  // A password hash is not a password.
  const std::string hash_start = "$argon2id$";
  EXPECT_NE(stored.find(hash_start), std::string::npos);
  const size_t at = stored.find(hash_start);
  const std::string hash = stored.substr(at, stored.find('\0', at) - at);
  AddUser("alice", "acme", "restore");
  r = Http("POST", base_ + "/api/v1/sessions", {},
           json{{"user", "ops@acme"}, {"password", hash}}.dump());
  EXPECT_EQ(r.status, 401) << r.body;
  // Removed, it stops working at once.
  ASSERT_EQ(Sendense("token rm --user ops@acme --name ro").status, 0);
  r = As(secret, "GET", "/api/v1/whoami");
  EXPECT_EQ(r.status, 401) << r.body;
}

TEST_F(TenantsApiTest, PamUsersSignInWithTheirLinuxPassword) {
  // A Linux account of the test's own, removed at the end.
  const std::string account = "sdtest" + std::to_string(::getpid() % 100000);
  if (::geteuid() != 0) {
    GTEST_SKIP() << "making a Linux account for PAM needs root";
  }
  RunOrFail("useradd -M -s /usr/sbin/nologin " + account + " 2>&1");
  struct Remove {
    std::string name;
    ~Remove() { RunCommand("userdel " + name + " 2>&1"); }
  } remove{account};
  RunOrFail("echo '" + account + ":linux-pass-123' | chpasswd 2>&1");
  ASSERT_EQ(Sendense("tenant add acme").status, 0);
  const auto r = Sendense("user add " + account +
                          " --tenant acme --role audit --realm pam");
  ASSERT_EQ(r.status, 0) << r.output;
  Serve();
  auto reply = Http(
      "POST", base_ + "/api/v1/sessions", {},
      json{{"user", account + "@acme"}, {"password", "linux-pass-123"}}.dump());
  EXPECT_EQ(reply.status, 201) << reply.body;
  EXPECT_NE(reply.body.find("\"tenant\":\"acme\""), std::string::npos)
      << reply.body;
  reply = Http(
      "POST", base_ + "/api/v1/sessions", {},
      json{{"user", account + "@acme"}, {"password", "not-it-123"}}.dump());
  EXPECT_EQ(reply.status, 401) << reply.body;
  // Its password is the Linux account's: Sendense keeps none to change.
  const auto passwd = RunCommand(
      "echo 'another-pass-1' | " + std::string(SENDENSE_BINARY) + " -r " +
      Quote(repo_) + " user passwd " + account + "@acme 2>&1");
  EXPECT_NE(passwd.status, 0);
  EXPECT_NE(passwd.output.find("PAM"), std::string::npos) << passwd.output;
}

}  // namespace
}  // namespace sendense::test
