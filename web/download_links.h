#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "engine/access/principal.h"

namespace sendense::web {

// One-time links for downloads started from a browser. A browser saves a
// file it navigated to (streamed to disk, any size) but cannot send the
// bearer header on a navigation, and the token must never be in a URL. So
// an authorized caller trades the download's API target for a random
// link that works once, within a minute, for that target only.
class DownloadLinks {
 public:
  static constexpr std::chrono::seconds kLifetime{60};

  struct Link {
    std::string target;
    access::Principal who;  // the caller it stands for
    std::chrono::steady_clock::time_point expires;
  };
  // A new link's secret (32 hex digits from the kernel's random source)
  // for `target` ("/api/v1/backups/VM/BACKUP/download/FS/PATH[?query]"),
  // standing for `who`.
  std::string Issue(const std::string& target, const access::Principal& who);
  // The link of `secret`, which is used up; nullopt when it is unknown,
  // used or expired.
  std::optional<Link> Redeem(const std::string& secret);

 private:
  void DropExpired(std::chrono::steady_clock::time_point now);

  std::mutex mutex_;
  std::map<std::string, Link> links_;
};

}  // namespace sendense::web
