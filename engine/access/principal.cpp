#include "engine/access/principal.h"

#include <sys/stat.h>

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

TokenCache::Generation TokenCache::Current() const {
  struct stat st {};
  if (::stat(generation_path_.c_str(), &st) != 0) {
    return {};
  }
  return {
      static_cast<uint64_t>(st.st_ino),
      static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
      static_cast<int64_t>(st.st_size)};
}

std::optional<Principal> TokenCache::Resolve(
    const std::string& secret,
    const std::function<Accounts&()>& accounts) {
  if (secret.rfind("sendense_", 0) != 0) {
    return std::nullopt;
  }
  const std::string hash = TokenHash(secret);
  const auto now = std::chrono::steady_clock::now();
  const Generation generation = Current();
  {
    std::lock_guard lock(mutex_);
    if (!(generation == generation_)) {
      entries_.clear();
      generation_ = generation;
    }
    const auto it = entries_.find(hash);
    const int64_t unix_now =
        std::chrono::duration_cast<std::chrono::seconds>(
            std::chrono::system_clock::now().time_since_epoch())
            .count();
    if (it != entries_.end() && now - it->second.resolved < kRefresh &&
        (it->second.expires == 0 || it->second.expires > unix_now)) {
      return it->second.who;
    }
  }
  Accounts& db = accounts();
  auto who = PrincipalOfToken(db, secret);
  if (!who) {
    return std::nullopt;
  }
  const auto token = db.FindTokenBySecretHash(hash);
  std::lock_guard lock(mutex_);
  if (generation == generation_ && token) {
    entries_[hash] = {*who, ParseIsoTime(token->expires_at), now};
  }
  return who;
}

}  // namespace sendense::access
