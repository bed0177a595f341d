// tenant, user, token and audit: who may use the appliance, and what they
// did. The command line runs on the appliance with the repository's own
// rights: it acts as the appliance's admin, and records what it changes.

#include <iomanip>
#include <iostream>

#include "cli/audit_trail.h"
#include "cli/commands.h"
#include "cli/quantities.h"
#include "cli/secret_input.h"
#include "engine/access/credentials.h"
#include "engine/catalog/accounts.h"
#include "engine/catalog/audit_log.h"
#include "engine/catalog/catalog.h"
#include "engine/catalog/names.h"
#include "engine/error.h"
#include "engine/repo/known_vms.h"
#include "engine/repo/tenant_usage.h"
#include "engine/time.h"

namespace sendense::cli {
namespace {

Repository OpenRepo(const GlobalOptions& global) {
  Repository repo(RequireRepo(global));
  repo.OpenCatalog();  // a missing repository is one sentence here
  return repo;
}

std::string Limit(const std::optional<int64_t>& v, bool bytes) {
  return !v      ? "-"
         : bytes ? HumanBytes(static_cast<double>(*v))
                 : std::to_string(*v);
}

// A new password: asked twice on a terminal, or one line of stdin.
std::string NewPassword() {
  return NewSecret("New password: ", "password");
}

void RegisterTenantCommands(CLI::App& app, GlobalOptions& global) {
  struct Args {
    std::string name;
    std::string quota;
    int64_t max_vms = 0;
    bool no_quota = false;
    bool no_max_vms = false;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  auto* tenant = app.add_subcommand(
      "tenant", "Customers of the appliance (add, list, set, rm)");
  tenant->require_subcommand(1);
  const auto limits = [args](CLI::App* cmd) {
    cmd->add_option("--quota", args->quota,
                    "What its VMs' files may take (2TiB, 500GiB)");
    cmd->add_option("--max-vms", args->max_vms, "How many VMs it may have")
        ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  };
  const auto apply = [args](CLI::App* cmd, Tenant& t) {
    if (cmd->count("--quota") > 0) {
      t.quota_bytes = ParseByteSize("--quota", args->quota);
    }
    if (cmd->count("--max-vms") > 0) {
      t.max_vms = args->max_vms;
    }
  };

  auto* add = tenant->add_subcommand("add", "Add a tenant");
  add->add_option("NAME", args->name, "Tenant name")->required();
  limits(add);
  add->callback([&global, args, add, apply] {
    const Repository repo = OpenRepo(global);
    Tenant t;
    t.name = args->name;
    apply(add, t);
    Audited(repo, "tenant add", args->name,
            [&] { Accounts(repo.CatalogPath()).AddTenant(t); });
    std::cout << "Added tenant " << t.name << "\n";
  });

  auto* set = tenant->add_subcommand("set", "Change a tenant's limits");
  set->add_option("NAME", args->name, "Tenant name")->required();
  limits(set);
  set->add_flag("--no-quota", args->no_quota, "No quota");
  set->add_flag("--no-max-vms", args->no_max_vms, "No VM limit");
  set->callback([&global, args, set, apply] {
    const Repository repo = OpenRepo(global);
    Accounts accounts(repo.CatalogPath());
    Tenant t = accounts.RequireTenant(args->name);
    apply(set, t);
    if (args->no_quota) {
      t.quota_bytes.reset();
    }
    if (args->no_max_vms) {
      t.max_vms.reset();
    }
    Audited(repo, "tenant set", args->name, [&] { accounts.UpdateTenant(t); });
    std::cout << "Tenant " << t.name << ": quota " << Limit(t.quota_bytes, true)
              << ", VMs " << Limit(t.max_vms, false) << "\n";
  });

  auto* rm = tenant->add_subcommand(
      "rm", "Remove a tenant that has no VMs (and its users)");
  rm->add_option("NAME", args->name, "Tenant name")->required();
  rm->callback([&global, args] {
    const Repository repo = OpenRepo(global);
    Audited(repo, "tenant rm", args->name,
            [&] { Accounts(repo.CatalogPath()).RemoveTenant(args->name); });
    std::cout << "Removed tenant " << args->name << "\n";
  });

  auto* list = tenant->add_subcommand("list", "Tenants, usage and limits");
  list->add_flag("--json", args->json, "One JSON document");
  list->callback([&global, args] {
    const Repository repo = OpenRepo(global);
    Accounts accounts(repo.CatalogPath());
    auto catalog = repo.OpenCatalog();
    VmConfigs vms(repo.CatalogPath());
    const auto usage = MeasureTenants(repo, accounts, KnownVms(*catalog, vms));
    if (args->json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& u : usage) {
        out.push_back(TenantUsageJson(u));
      }
      std::cout << nlohmann::json{{"tenants", out}}.dump(2) << "\n";
      return;
    }
    if (usage.empty()) {
      std::cout << "No tenants.\n";
    }
    for (const auto& u : usage) {
      std::cout << std::left << std::setw(20) << u.tenant.name << " "
                << HumanBytes(static_cast<double>(u.used_bytes)) << " of "
                << Limit(u.tenant.quota_bytes, true) << ", " << u.vms
                << " VMs of " << Limit(u.tenant.max_vms, false) << "\n";
    }
  });
}

void RegisterUserCommands(CLI::App& app, GlobalOptions& global) {
  struct Args {
    std::string name;
    std::string tenant;
    std::string role;
    std::string realm = "sendense";
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  auto* user = app.add_subcommand(
      "user", "People who sign in (add, list, passwd, set, rm)");
  user->require_subcommand(1);

  auto* add = user->add_subcommand(
      "add", "Add a user; the password is asked for, or read from stdin");
  add->add_option("NAME", args->name, "User name")->required();
  add->add_option("--tenant", args->tenant,
                  "Its tenant (none: the appliance's user)");
  add->add_option("--role", args->role, "admin, operator, restore or audit")
      ->required();
  add->add_option("--realm", args->realm,
                  "sendense (its own password) or pam (the Linux account)")
      ->check(CLI::IsMember({"sendense", "pam"}));
  add->callback([&global, args] {
    const Repository repo = OpenRepo(global);
    User u;
    u.name = Qualified(args->name, args->tenant);
    u.role = ParseRole(args->role);
    u.realm = args->realm == "pam" ? Realm::kPam : Realm::kSendense;
    Accounts accounts(repo.CatalogPath());
    ValidateQualifiedName("user name", u.name);
    if (!args->tenant.empty()) {
      accounts.RequireTenant(args->tenant);
    }
    if (accounts.FindUser(u.name)) {
      throw Error(ErrorKind::kAlreadyExists,
                  "a user named '" + u.name + "' already exists");
    }
    if (u.realm == Realm::kSendense) {
      u.password_hash = access::HashPassword(NewPassword());
    }
    Audited(repo, "user add", u.name, [&] { accounts.AddUser(u); });
    std::cout << "Added user " << u.name << " (" << RoleName(u.role) << ")\n";
  });

  auto* passwd = user->add_subcommand(
      "passwd", "Set a user's password (asked for, or read from stdin)");
  passwd->add_option("NAME", args->name, "User name (NAME@TENANT)")->required();
  passwd->callback([&global, args] {
    const Repository repo = OpenRepo(global);
    Accounts accounts(repo.CatalogPath());
    accounts.RequireUser(args->name);
    const std::string hash = access::HashPassword(NewPassword());
    Audited(repo, "user passwd", args->name,
            [&] { accounts.SetPasswordHash(args->name, hash); });
    std::cout << "Password of " << args->name << " set\n";
  });

  auto* set = user->add_subcommand("set", "Change a user's role");
  set->add_option("NAME", args->name, "User name (NAME@TENANT)")->required();
  set->add_option("--role", args->role, "admin, operator, restore or audit")
      ->required();
  set->callback([&global, args] {
    const Repository repo = OpenRepo(global);
    const Role role = ParseRole(args->role);
    Audited(repo, "user set", args->name,
            [&] { Accounts(repo.CatalogPath()).SetRole(args->name, role); });
    std::cout << "User " << args->name << " is " << RoleName(role) << "\n";
  });

  auto* rm = user->add_subcommand("rm", "Remove a user and its tokens");
  rm->add_option("NAME", args->name, "User name (NAME@TENANT)")->required();
  rm->callback([&global, args] {
    const Repository repo = OpenRepo(global);
    Audited(repo, "user rm", args->name,
            [&] { Accounts(repo.CatalogPath()).RemoveUser(args->name); });
    std::cout << "Removed user " << args->name << "\n";
  });

  auto* list = user->add_subcommand("list", "Users and their roles");
  list->add_option("--tenant", args->tenant, "Only this tenant's");
  list->add_flag("--json", args->json, "One JSON document");
  list->callback([&global, args] {
    const Repository repo = OpenRepo(global);
    nlohmann::json out = nlohmann::json::array();
    for (const auto& u : Accounts(repo.CatalogPath()).Users()) {
      if (!args->tenant.empty() && u.tenant() != args->tenant) {
        continue;
      }
      out.push_back(UserJson(u));
      if (!args->json) {
        std::cout << std::left << std::setw(24) << u.name << " " << std::setw(9)
                  << RoleName(u.role) << " " << RealmName(u.realm) << "\n";
      }
    }
    if (args->json) {
      std::cout << nlohmann::json{{"users", out}}.dump(2) << "\n";
    } else if (out.empty()) {
      std::cout << "No users.\n";
    }
  });
}

void RegisterTokenCommands(CLI::App& app, GlobalOptions& global) {
  struct Args {
    std::string user;
    std::string role;
    std::string expires;
    std::string name = "default";
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  auto* token =
      app.add_subcommand("token", "API tokens of users (create, list, rm)");
  token->require_subcommand(1);

  auto* create = token->add_subcommand(
      "create", "Create a token; its secret is printed once");
  create->add_option("--user", args->user, "Its user (NAME@TENANT)")
      ->required();
  create->add_option("--role", args->role,
                     "At most its user's role (default: the user's)");
  create->add_option("--expires", args->expires,
                     "It stops working after this (30d, 12h)");
  create->add_option("--name", args->name, "Its name (default: default)");
  create->add_flag("--json", args->json, "One JSON document");
  create->callback([&global, args] {
    const Repository repo = OpenRepo(global);
    Accounts accounts(repo.CatalogPath());
    const User user = accounts.RequireUser(args->user);
    Token t;
    t.user = user.name;
    t.name = args->name;
    t.role = args->role.empty() ? user.role : ParseRole(args->role);
    if (!args->expires.empty()) {
      t.expires_at =
          IsoTime(std::chrono::system_clock::now() +
                  std::chrono::seconds(ParseAge("--expires", args->expires)));
    }
    const std::string secret = access::NewTokenSecret();
    t.secret_hash = access::TokenHash(secret);
    const std::string target = t.user + "/" + t.name;
    Audited(repo, "token create", target, [&] { t.id = accounts.AddToken(t); });
    if (args->json) {
      auto j = TokenJson(*accounts.FindToken(t.user, t.name));
      j["secret"] = secret;
      std::cout << j.dump(2) << "\n";
      return;
    }
    std::cout << "Token " << t.name << " of " << t.user << " ("
              << RoleName(t.role) << "): " << secret
              << "\nIt is shown once; give it as 'Authorization: Bearer "
                 "<token>'.\n";
  });

  auto* list = token->add_subcommand("list", "Tokens and their last use");
  list->add_option("--user", args->user, "Only this user's");
  list->add_flag("--json", args->json, "One JSON document");
  list->callback([&global, args] {
    const Repository repo = OpenRepo(global);
    nlohmann::json out = nlohmann::json::array();
    for (const auto& t : Accounts(repo.CatalogPath()).Tokens()) {
      if (!args->user.empty() && t.user != args->user) {
        continue;
      }
      out.push_back(TokenJson(t));
      if (!args->json) {
        std::cout << std::left << std::setw(24) << t.user << " "
                  << std::setw(16) << t.name << " " << std::setw(9)
                  << RoleName(t.role) << " expires "
                  << (t.expires_at.empty() ? "never" : t.expires_at)
                  << ", last used "
                  << (t.last_used_at.empty() ? "never" : t.last_used_at)
                  << "\n";
      }
    }
    if (args->json) {
      std::cout << nlohmann::json{{"tokens", out}}.dump(2) << "\n";
    } else if (out.empty()) {
      std::cout << "No tokens.\n";
    }
  });

  auto* rm = token->add_subcommand("rm", "Remove a token");
  rm->add_option("--user", args->user, "Its user")->required();
  rm->add_option("--name", args->name, "Its name (default: default)");
  rm->callback([&global, args] {
    const Repository repo = OpenRepo(global);
    Accounts accounts(repo.CatalogPath());
    const auto t = accounts.FindToken(args->user, args->name);
    if (!t) {
      throw Error(
          ErrorKind::kNotFound,
          "user '" + args->user + "' has no token named '" + args->name + "'");
    }
    Audited(repo, "token rm", t->user + "/" + t->name,
            [&] { accounts.RemoveToken(t->id); });
    std::cout << "Removed token " << t->name << " of " << t->user << "\n";
  });
}

void RegisterAuditCommand(CLI::App& app, GlobalOptions& global) {
  struct Args {
    std::string tenant;
    std::string since;
    size_t limit = 1000;
    int keep_days = 0;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  auto* audit = app.add_subcommand(
      "audit", "Who did what, when, from where (newest first)");
  audit->add_option("--tenant", args->tenant, "Only this tenant's records");
  audit->add_option("--since", args->since,
                    "From this time on (2026-12-01 or 2026-12-01T09:00:00Z)");
  audit->add_option("--limit", args->limit, "At most this many records")
      ->check(CLI::Range(size_t{1}, size_t{1000000}));
  audit
      ->add_option("--keep-days", args->keep_days,
                   "Keep records this many days from now on (default 365)")
      ->check(CLI::Range(1, 36500));
  audit->add_flag("--json", args->json, "One JSON document");
  audit->callback([&global, args, audit] {
    const Repository repo = OpenRepo(global);
    if (audit->count("--keep-days") > 0) {
      Audited(repo, "audit keep-days", std::to_string(args->keep_days), [&] {
        Catalog(repo.CatalogPath(), false)
            .SetSetting("audit_keep_days", std::to_string(args->keep_days));
      });
      std::cout << "Audit records are kept " << args->keep_days << " days\n";
      return;
    }
    std::string since = args->since;
    if (!since.empty() &&
        ParseIsoTime(since.size() == 10 ? since + "T00:00:00Z" : since) == 0) {
      throw Error(ErrorKind::kInvalidArgument,
                  "--since '" + since +
                      "' is not a time (2026-12-01 or 2026-12-01T09:00:00Z)");
    }
    AuditLog log(repo.CatalogPath());
    log.Expire();
    const auto records = log.Query(
        args->tenant.empty() ? std::nullopt : std::optional(args->tenant),
        since, args->limit);
    if (args->json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& r : records) {
        out.push_back(AuditJson(r));
      }
      std::cout << nlohmann::json{{"records", out}}.dump(2) << "\n";
      return;
    }
    if (records.empty()) {
      std::cout << "No audit records.\n";
    }
    for (const auto& r : records) {
      std::cout << r.at << "  " << r.actor << " from " << r.address << ": "
                << r.action << (r.target.empty() ? "" : " " + r.target) << " "
                << OutcomeName(r.outcome)
                << (r.detail.empty() ? "" : " (" + r.detail + ")") << "\n";
    }
  });
}

}  // namespace

void RegisterAccess(CLI::App& app, GlobalOptions& global) {
  RegisterTenantCommands(app, global);
  RegisterUserCommands(app, global);
  RegisterTokenCommands(app, global);
  RegisterAuditCommand(app, global);
}

}  // namespace sendense::cli
