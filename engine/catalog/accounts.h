#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/catalog/sqlite.h"
#include "engine/states.h"

namespace sendense {

// A customer of the appliance: its VMs and users are NAME@TENANT
// (names.h). Limits are optional.
struct Tenant {
  std::string name;
  std::optional<int64_t> quota_bytes;  // what its VMs' files may take
  std::optional<int64_t> max_vms;
  std::string created_at;
};

// Where a user's password is checked: Sendense's own Argon2id hash, or
// the Linux account of the same (local) name through PAM.
enum class Realm { kSendense, kPam };
const char* RealmName(Realm realm);

struct User {
  std::string name;  // "alice" (the appliance's) or "alice@acme"
  Role role = Role::kAudit;
  Realm realm = Realm::kSendense;
  std::string password_hash;  // Argon2id (credentials.h); "" for PAM
  std::string created_at;
  std::string tenant() const;
};

// An API token of a user: its rights are its role's and at most its
// user's. Only the secret's hash is kept.
struct Token {
  int64_t id = 0;
  std::string user;
  std::string name;
  Role role = Role::kAudit;
  std::string secret_hash;
  std::string created_at;
  std::string expires_at;    // ISO time; "" never
  std::string last_used_at;  // ISO time; "" never used
};

// Tenants, users and tokens in the catalog. One connection; one per
// thread. Every change also replaces the file GenerationPath() (a new
// inode each time), so a process caching what it read (TokenCache) knows
// with one stat that another changed them. Each method is one transaction;
// errors are one sentence: kInvalidArgument for a bad name, kNotFound,
// kAlreadyExists, kBusy for a tenant that still has VMs.
class Accounts {
 public:
  explicit Accounts(const std::string& catalog_path);
  // "accounts.generation" beside the catalog.
  static std::string GenerationPath(const std::string& catalog_path);

  void AddTenant(const Tenant& tenant);
  // Sets the limits of the tenant named `tenant.name`.
  void UpdateTenant(const Tenant& tenant);
  // Removes a tenant with no VMs, and its users and their tokens.
  void RemoveTenant(const std::string& name);
  std::vector<Tenant> Tenants();
  std::optional<Tenant> FindTenant(const std::string& name);
  Tenant RequireTenant(const std::string& name);

  // A user of a tenant that exists (none for an appliance user).
  void AddUser(const User& user);
  void SetPasswordHash(const std::string& user, const std::string& hash);
  void SetRole(const std::string& user, Role role);
  void RemoveUser(const std::string& name);  // and its tokens
  std::vector<User> Users();
  std::optional<User> FindUser(const std::string& name);
  User RequireUser(const std::string& name);

  // Stores a token; returns its id. A user's token names are unique.
  int64_t AddToken(const Token& token);
  std::vector<Token> Tokens();
  std::optional<Token> FindTokenBySecretHash(const std::string& hash);
  std::optional<Token> FindToken(const std::string& user,
                                 const std::string& name);
  void TouchToken(int64_t id, const std::string& at);
  void RemoveToken(int64_t id);

 private:
  void Changed();
  std::string generation_path_;
  sqlite::Database db_;
};

// Records as the CLI's --json, the API and the docs show them (never a
// hash or a secret).
nlohmann::json TenantJson(const Tenant& t);
nlohmann::json UserJson(const User& u);
nlohmann::json TokenJson(const Token& t);

}  // namespace sendense
