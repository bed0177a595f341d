#include "engine/access/principal.h"

#include <algorithm>

#include "engine/access/credentials.h"
#include "engine/catalog/names.h"
#include "engine/time.h"

namespace sendense::access {
namespace {

Principal OfUser(const User& user, Role role, std::string name) {
  Principal p;
  p.name = std::move(name);
  p.tenant = user.tenant();
  p.role = role;
  return p;
}

// A hash of a password nobody has, checked when the user is unknown.
const std::string& DecoyHash() {
  static const std::string hash = HashPassword(RandomHex());
  return hash;
}

}  // namespace

bool Principal::Sees(const std::string& qualified) const {
  return tenant.empty() || TenantOf(qualified) == tenant;
}

bool Principal::ApplianceAdmin() const {
  return tenant.empty() && role == Role::kAdmin;
}

Principal ApplianceToken() {
  Principal p;
  p.name = "api-token";
  p.role = Role::kAdmin;
  return p;
}

std::optional<Principal> PrincipalOfToken(Accounts& accounts,
                                          const std::string& secret) {
  if (secret.rfind("sendense_", 0) != 0) {
    return std::nullopt;
  }
  const auto token = accounts.FindTokenBySecretHash(TokenHash(secret));
  if (!token) {
    return std::nullopt;
  }
  const std::string now = NowIso();
  if (!token->expires_at.empty() && token->expires_at <= now) {
    return std::nullopt;
  }
  const auto user = accounts.FindUser(token->user);
  if (!user) {
    return std::nullopt;
  }
  if (ParseIsoTime(token->last_used_at) + 60 <= ParseIsoTime(now)) {
    accounts.TouchToken(token->id, now);
  }
  return OfUser(*user, std::min(token->role, user->role),
                token->user + " (token " + token->name + ")");
}

std::optional<Principal> SignIn(Accounts& accounts,
                                const std::string& user,
                                const std::string& password) {
  const auto u = accounts.FindUser(user);
  if (!u) {
    PasswordMatches(DecoyHash(), password);
    return std::nullopt;
  }
  const bool ok = u->realm == Realm::kPam
                      ? PamAccepts(LocalName(u->name), password)
                      : PasswordMatches(u->password_hash, password);
  if (!ok) {
    return std::nullopt;
  }
  return OfUser(*u, u->role, u->name);
}

}  // namespace sendense::access
