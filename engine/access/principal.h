#pragma once

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

// The principal of `user` giving `password` (Argon2id, or PAM for a PAM
// user); nullopt when either is wrong. An unknown user costs the same
// time as a wrong password, so a sign-in does not tell which users exist.
std::optional<Principal> SignIn(Accounts& accounts,
                                const std::string& user,
                                const std::string& password);

}  // namespace sendense::access
