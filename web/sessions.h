#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "engine/access/principal.h"

namespace sendense::web {

// The cookie that carries a dashboard session's id.
inline constexpr const char* kSessionCookie = "sendense_session";

// Dashboard sign-ins: a random session id in an HttpOnly cookie, and a
// CSRF token the page sends back on every change (X-CSRF-Token). A
// session ends when it is idle longer than the idle time, or on sign-out.
// In memory: a restart signs everyone out.
class Sessions {
 public:
  struct Session {
    access::Principal who;
    std::string csrf;
    std::chrono::steady_clock::time_point last_seen;
  };

  explicit Sessions(std::chrono::seconds idle = std::chrono::minutes(30))
      : idle_(idle) {}

  std::chrono::seconds idle() const { return idle_; }
  // A new session's id (its CSRF token in `*csrf`).
  std::string Start(const access::Principal& who, std::string* csrf);
  // The session `id`, seen now; nullopt when unknown or idle too long.
  std::optional<Session> Touch(const std::string& id);
  void End(const std::string& id);

 private:
  std::chrono::seconds idle_;
  std::mutex mutex_;
  std::map<std::string, Session> sessions_;
};

// Slows down, then refuses, sign-ins from an address that keeps failing:
// from the 5th failure within a minute each try waits a quarter second more,
// and past the 9th every try is refused until a minute passes without one.
class SignInGuard {
 public:
  static constexpr int kSlowAfter = 4;
  static constexpr int kRefuseAfter = 9;
  static constexpr std::chrono::seconds kWindow{60};

  // Before a try from `address`: nullopt to go on (after waiting
  // `*delay`), or the seconds until tries are taken again. A refused try
  // counts as a failure.
  std::optional<int64_t> Admit(const std::string& address,
                               std::chrono::milliseconds* delay);
  void Failed(const std::string& address);
  void Succeeded(const std::string& address);

 private:
  using Clock = std::chrono::steady_clock;
  struct Record {
    int failures = 0;
    Clock::time_point last;
  };
  std::mutex mutex_;
  std::map<std::string, Record> records_;
};

}  // namespace sendense::web
