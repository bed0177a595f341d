#include "engine/catalog/accounts.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "engine/catalog/catalog.h"
#include "engine/catalog/names.h"
#include "engine/error.h"
#include "engine/time.h"

namespace sendense {
namespace {

const std::string& Migrated(const std::string& path) {
  Catalog migrate(path, false);
  return path;
}

Tenant ReadTenant(const sqlite::Statement& s) {
  Tenant t;
  t.name = s.Text(0);
  if (!s.IsNull(1)) {
    t.quota_bytes = s.Int(1);
  }
  if (!s.IsNull(2)) {
    t.max_vms = s.Int(2);
  }
  t.created_at = s.Text(3);
  return t;
}

User ReadUser(const sqlite::Statement& s) {
  User u;
  u.name = s.Text(0);
  u.role = ParseRole(s.Text(1));
  u.realm = s.Text(2) == "pam" ? Realm::kPam : Realm::kSendense;
  u.password_hash = s.Text(3);
  u.created_at = s.Text(4);
  return u;
}

Token ReadToken(const sqlite::Statement& s) {
  Token t;
  t.id = s.Int(0);
  t.user = s.Text(1);
  t.name = s.Text(2);
  t.role = ParseRole(s.Text(3));
  t.secret_hash = s.Text(4);
  t.created_at = s.Text(5);
  t.expires_at = s.Text(6);
  t.last_used_at = s.Text(7);
  return t;
}

constexpr const char* kTenantColumns =
    "SELECT name, quota_bytes, max_vms, created_at FROM tenants ";
constexpr const char* kUserColumns =
    "SELECT name, role, realm, password_hash, created_at FROM users ";
constexpr const char* kTokenColumns =
    "SELECT id, user, name, role, secret_hash, created_at, expires_at, "
    "last_used_at FROM tokens ";

void CheckLimits(const Tenant& t) {
  if ((t.quota_bytes && *t.quota_bytes <= 0) ||
      (t.max_vms && *t.max_vms <= 0)) {
    throw Error(ErrorKind::kInvalidArgument,
                "a tenant's quota and VM limit must be above zero");
  }
}

}  // namespace

const char* RealmName(Realm realm) {
  return realm == Realm::kPam ? "pam" : "sendense";
}

std::string User::tenant() const {
  return TenantOf(name);
}

Accounts::Accounts(const std::string& catalog_path)
    : generation_path_(GenerationPath(catalog_path)),
      db_(Migrated(catalog_path), false) {}

std::string Accounts::GenerationPath(const std::string& catalog_path) {
  return std::filesystem::path(catalog_path).parent_path() /
         "accounts.generation";
}

void Accounts::Changed() {
  // A new file renamed over the old, one byte longer (its length counts
  // the changes, up to 4095 and round): a reused inode number and a
  // coarse clock cannot make two generations look alike.
  struct stat st {};
  const off_t length =
      ::stat(generation_path_.c_str(), &st) == 0 ? st.st_size % 4095 + 1 : 1;
  const std::string temp = generation_path_ + ".tmp";
  const int fd =
      ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    const bool sized = ::ftruncate(fd, length) == 0;
    ::close(fd);
    if (sized) {
      ::rename(temp.c_str(), generation_path_.c_str());
    }
  }
}

void Accounts::AddTenant(const Tenant& tenant) {
  ValidateName("tenant name", tenant.name);
  CheckLimits(tenant);
  sqlite::Transaction tx(db_);
  if (FindTenant(tenant.name)) {
    throw Error(ErrorKind::kAlreadyExists,
                "a tenant named '" + tenant.name + "' already exists");
  }
  auto add = db_.Prepare(
      "INSERT INTO tenants (name, quota_bytes, max_vms, created_at) "
      "VALUES (?, ?, ?, ?)");
  add.Bind(1, tenant.name);
  add.Bind(2, tenant.quota_bytes);
  add.Bind(3, tenant.max_vms);
  add.Bind(4, NowIso()).Run();
  tx.Commit();
  Changed();
}

void Accounts::UpdateTenant(const Tenant& tenant) {
  CheckLimits(tenant);
  sqlite::Transaction tx(db_);
  RequireTenant(tenant.name);
  auto set = db_.Prepare(
      "UPDATE tenants SET quota_bytes = ?, max_vms = ? WHERE name = ?");
  set.Bind(1, tenant.quota_bytes);
  set.Bind(2, tenant.max_vms);
  set.Bind(3, tenant.name).Run();
  tx.Commit();
  Changed();
}

void Accounts::RemoveTenant(const std::string& name) {
  sqlite::Transaction tx(db_);
  RequireTenant(name);
  auto vms = db_.Prepare(
      "SELECT name FROM vm_configs WHERE instr(name, '@') > 0 AND substr(name, "
      "instr(name, '@') + 1) = ?1 UNION "
      "SELECT name FROM vms WHERE instr(name, '@') > 0 AND substr(name, "
      "instr(name, '@') + 1) = ?1 ORDER BY 1");
  vms.Bind(1, name);
  std::string names;
  int count = 0;
  while (vms.Step()) {
    names += (count++ == 0 ? "" : ", ") + vms.Text(0);
  }
  if (count > 0) {
    throw Error(ErrorKind::kBusy, "tenant '" + name + "' still has " +
                                      std::to_string(count) + " VM" +
                                      (count == 1 ? "" : "s") + " (" + names +
                                      "): remove them first");
  }
  db_.Prepare("DELETE FROM users WHERE tenant = ?").Bind(1, name).Run();
  db_.Prepare("DELETE FROM tenants WHERE name = ?").Bind(1, name).Run();
  tx.Commit();
  Changed();
}

std::vector<Tenant> Accounts::Tenants() {
  auto s = db_.Prepare(std::string(kTenantColumns) + "ORDER BY name");
  std::vector<Tenant> out;
  while (s.Step()) {
    out.push_back(ReadTenant(s));
  }
  return out;
}

std::optional<Tenant> Accounts::FindTenant(const std::string& name) {
  auto s = db_.Prepare(std::string(kTenantColumns) + "WHERE name = ?");
  s.Bind(1, name);
  if (s.Step()) {
    return ReadTenant(s);
  }
  return std::nullopt;
}

Tenant Accounts::RequireTenant(const std::string& name) {
  auto t = FindTenant(name);
  if (!t) {
    throw Error(ErrorKind::kNotFound, "no tenant named '" + name + "'");
  }
  return *t;
}

void Accounts::AddUser(const User& user) {
  ValidateQualifiedName("user name", user.name);
  sqlite::Transaction tx(db_);
  if (!user.tenant().empty()) {
    RequireTenant(user.tenant());
  }
  if (FindUser(user.name)) {
    throw Error(ErrorKind::kAlreadyExists,
                "a user named '" + user.name + "' already exists");
  }
  auto add = db_.Prepare(
      "INSERT INTO users (name, tenant, role, realm, password_hash, "
      "created_at) VALUES (?, ?, ?, ?, ?, ?)");
  add.Bind(1, user.name);
  if (user.tenant().empty()) {
    add.Bind(2, std::nullopt);
  } else {
    add.Bind(2, user.tenant());
  }
  add.Bind(3, RoleName(user.role))
      .Bind(4, RealmName(user.realm))
      .Bind(5, user.password_hash)
      .Bind(6, NowIso())
      .Run();
  tx.Commit();
  Changed();
}

void Accounts::SetPasswordHash(const std::string& user,
                               const std::string& hash) {
  sqlite::Transaction tx(db_);
  if (RequireUser(user).realm == Realm::kPam) {
    throw Error(ErrorKind::kInvalidArgument,
                "user '" + user +
                    "' signs in through PAM: change the Linux account's "
                    "password instead");
  }
  db_.Prepare("UPDATE users SET password_hash = ? WHERE name = ?")
      .Bind(1, hash)
      .Bind(2, user)
      .Run();
  tx.Commit();
  Changed();
}

void Accounts::SetRole(const std::string& user, Role role) {
  sqlite::Transaction tx(db_);
  RequireUser(user);
  db_.Prepare("UPDATE users SET role = ? WHERE name = ?")
      .Bind(1, RoleName(role))
      .Bind(2, user)
      .Run();
  tx.Commit();
  Changed();
}

void Accounts::RemoveUser(const std::string& name) {
  sqlite::Transaction tx(db_);
  RequireUser(name);
  db_.Prepare("DELETE FROM users WHERE name = ?").Bind(1, name).Run();
  tx.Commit();
  Changed();
}

std::vector<User> Accounts::Users() {
  auto s = db_.Prepare(std::string(kUserColumns) + "ORDER BY name");
  std::vector<User> out;
  while (s.Step()) {
    out.push_back(ReadUser(s));
  }
  return out;
}

std::optional<User> Accounts::FindUser(const std::string& name) {
  auto s = db_.Prepare(std::string(kUserColumns) + "WHERE name = ?");
  s.Bind(1, name);
  if (s.Step()) {
    return ReadUser(s);
  }
  return std::nullopt;
}

User Accounts::RequireUser(const std::string& name) {
  auto u = FindUser(name);
  if (!u) {
    throw Error(ErrorKind::kNotFound, "no user named '" + name + "'");
  }
  return *u;
}

int64_t Accounts::AddToken(const Token& token) {
  ValidateName("token name", token.name);
  sqlite::Transaction tx(db_);
  const User user = RequireUser(token.user);
  if (token.role > user.role) {
    throw Error(ErrorKind::kInvalidArgument,
                "a token's role cannot be above its user's (" +
                    std::string(RoleName(user.role)) + ")");
  }
  if (FindToken(token.user, token.name)) {
    throw Error(ErrorKind::kAlreadyExists, "user '" + token.user +
                                               "' already has a token named '" +
                                               token.name + "'");
  }
  db_.Prepare(
         "INSERT INTO tokens (user, name, role, secret_hash, created_at, "
         "expires_at) VALUES (?, ?, ?, ?, ?, ?)")
      .Bind(1, token.user)
      .Bind(2, token.name)
      .Bind(3, RoleName(token.role))
      .Bind(4, token.secret_hash)
      .Bind(5, NowIso())
      .Bind(6, token.expires_at)
      .Run();
  const int64_t id = db_.LastInsertId();
  tx.Commit();
  Changed();
  return id;
}

std::vector<Token> Accounts::Tokens() {
  auto s = db_.Prepare(std::string(kTokenColumns) + "ORDER BY user, name");
  std::vector<Token> out;
  while (s.Step()) {
    out.push_back(ReadToken(s));
  }
  return out;
}

std::optional<Token> Accounts::FindTokenBySecretHash(const std::string& hash) {
  auto s = db_.Prepare(std::string(kTokenColumns) + "WHERE secret_hash = ?");
  s.Bind(1, hash);
  if (s.Step()) {
    return ReadToken(s);
  }
  return std::nullopt;
}

std::optional<Token> Accounts::FindToken(const std::string& user,
                                         const std::string& name) {
  auto s =
      db_.Prepare(std::string(kTokenColumns) + "WHERE user = ? AND name = ?");
  s.Bind(1, user).Bind(2, name);
  if (s.Step()) {
    return ReadToken(s);
  }
  return std::nullopt;
}

void Accounts::TouchToken(int64_t id, const std::string& at) {
  db_.Prepare("UPDATE tokens SET last_used_at = ? WHERE id = ?")
      .Bind(1, at)
      .Bind(2, id)
      .Run();
}

void Accounts::RemoveToken(int64_t id) {
  db_.Prepare("DELETE FROM tokens WHERE id = ?").Bind(1, id).Run();
  Changed();
}

nlohmann::json TenantJson(const Tenant& t) {
  const auto opt = [](const std::optional<int64_t>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  return {{"name", t.name},
          {"quota_bytes", opt(t.quota_bytes)},
          {"max_vms", opt(t.max_vms)},
          {"created_at", t.created_at}};
}

nlohmann::json UserJson(const User& u) {
  return {{"name", u.name},
          {"tenant", u.tenant().empty() ? nlohmann::json(nullptr)
                                        : nlohmann::json(u.tenant())},
          {"role", RoleName(u.role)},
          {"realm", RealmName(u.realm)},
          {"created_at", u.created_at}};
}

nlohmann::json TokenJson(const Token& t) {
  const auto opt = [](const std::string& v) {
    return v.empty() ? nlohmann::json(nullptr) : nlohmann::json(v);
  };
  return {{"id", t.id},
          {"user", t.user},
          {"name", t.name},
          {"role", RoleName(t.role)},
          {"created_at", t.created_at},
          {"expires_at", opt(t.expires_at)},
          {"last_used_at", opt(t.last_used_at)}};
}

}  // namespace sendense
