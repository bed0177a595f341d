#include "web/sessions.h"

#include "engine/access/credentials.h"

namespace sendense::web {

std::string Sessions::Start(const access::Principal& who, std::string* csrf) {
  const std::string id = access::RandomHex(32);
  *csrf = access::RandomHex(16);
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(sessions_, [&](const auto& s) {
    return now - s.second.last_seen > idle_;
  });
  sessions_[id] = Session{who, *csrf, now};
  return id;
}

std::optional<Sessions::Session> Sessions::Touch(const std::string& id) {
  std::lock_guard lock(mutex_);
  const auto it = sessions_.find(id);
  if (it == sessions_.end()) {
    return std::nullopt;
  }
  const auto now = std::chrono::steady_clock::now();
  if (now - it->second.last_seen > idle_) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.last_seen = now;
  return it->second;
}

void Sessions::End(const std::string& id) {
  std::lock_guard lock(mutex_);
  sessions_.erase(id);
}

std::optional<int64_t> SignInGuard::Admit(const std::string& address,
                                          std::chrono::milliseconds* delay) {
  *delay = std::chrono::milliseconds(0);
  std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  std::erase_if(records_,
                [&](const auto& r) { return now - r.second.last > kWindow; });
  const auto it = records_.find(address);
  if (it == records_.end()) {
    return std::nullopt;
  }
  Record& r = it->second;
  if (r.failures >= kRefuseAfter) {
    ++r.failures;
    r.last = now;
    return std::chrono::duration_cast<std::chrono::seconds>(kWindow).count();
  }
  if (r.failures >= kSlowAfter) {
    *delay = std::chrono::milliseconds(250) * (r.failures - kSlowAfter + 1);
  }
  return std::nullopt;
}

void SignInGuard::Failed(const std::string& address) {
  std::lock_guard lock(mutex_);
  Record& r = records_[address];
  ++r.failures;
  r.last = Clock::now();
}

void SignInGuard::Succeeded(const std::string& address) {
  std::lock_guard lock(mutex_);
  records_.erase(address);
}

}  // namespace sendense::web
