#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "engine/catalog/accounts.h"
#include "engine/states.h"

namespace sendense::access {

// Who is asking, as every front end checks it: a user signed in, a
// user's API token, or the appliance's own token (REPO/api-token).
struct Principal {
  std::string name;    // for the audit log: "alice@acme", "api-token"
  std::string tenant;  // "" for the appliance
  Role role = Role::kAudit;

  // Whether `vm` (or a user "NAME@TENANT") is this principal's to see:
  // an appliance principal sees everything, a tenant's its own.
  bool Sees(const std::string& qualified) const;
  bool May(Role needed) const { return role >= needed; }
  // An admin of no tenant: tenants and appliance settings.
  bool ApplianceAdmin() const;
};

// The appliance's own token: an admin of no tenant.
Principal ApplianceToken();

// The principal of an API token's secret: its role at most its user's;
// nullopt when the secret is unknown or the token expired. Records the
// token's use (at most once a minute: reads stay reads).
std::optional<Principal> PrincipalOfToken(Accounts& accounts,
                                          const std::string& secret);

// The principals of API tokens one process resolved, so that a request
// with a user's token costs a stat, not a catalog query: valid until the
// accounts change (in any process: Accounts replaces its generation file),
// the token expires, or a minute passes (then its use is recorded again).
// Thread-safe.
class TokenCache {
 public:
  explicit TokenCache(std::string generation_path)
      : generation_path_(std::move(generation_path)) {}

  // PrincipalOfToken through the cache; `accounts` is called only on a
  // miss.
  std::optional<Principal> Resolve(const std::string& secret,
                                   const std::function<Accounts&()>& accounts);

 private:
  struct Entry {
    Principal who;
    int64_t expires = 0;  // Unix seconds; 0 never
    std::chrono::steady_clock::time_point resolved;
  };
  struct Generation {
    uint64_t ino = 0;
    int64_t mtime_ns = 0;
    int64_t length = 0;
    bool operator==(const Generation&) const = default;
  };
  Generation Current() const;

  static constexpr std::chrono::seconds kRefresh{60};
  std::string generation_path_;
  std::mutex mutex_;
  Generation generation_;
  std::map<std::string, Entry> entries_;  // by the secret's hash
};

// The principal of `user` giving `password` (Argon2id, or PAM for a PAM
// user); nullopt when either is wrong. An unknown user costs the same
// time as a wrong password, so a sign-in does not tell which users exist.
std::optional<Principal> SignIn(Accounts& accounts,
                                const std::string& user,
                                const std::string& password);

}  // namespace sendense::access
