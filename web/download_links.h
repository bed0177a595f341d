#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace sendense::web {

// One-time links for downloads started from a browser. A browser saves a
// file it navigated to (streamed to disk, any size) but cannot send the
// bearer header on a navigation, and the token must never be in a URL. So
// an authorized caller trades the download's API target for a random
// link that works once, within a minute, for that target only.
class DownloadLinks {
 public:
  static constexpr std::chrono::seconds kLifetime{60};

  // A new link's secret (32 hex digits from the kernel's random source)
  // for `target` ("/api/v1/backups/VM/BACKUP/download/FS/PATH[?query]").
  std::string Issue(const std::string& target);
  // The target of `secret`, which is used up; nullopt when it is unknown,
  // used or expired.
  std::optional<std::string> Redeem(const std::string& secret);

 private:
  struct Link {
    std::string target;
    std::chrono::steady_clock::time_point expires;
  };
  void DropExpired(std::chrono::steady_clock::time_point now);

  std::mutex mutex_;
  std::map<std::string, Link> links_;
};

}  // namespace sendense::web
