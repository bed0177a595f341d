#include "web/download_links.h"

#include <sys/random.h>

#include <cstdint>
#include <cstdio>

#include "engine/error.h"

namespace sendense::web {

std::string DownloadLinks::Issue(const std::string& target) {
  uint8_t random[16];
  if (::getrandom(random, sizeof random, 0) != sizeof random) {
    ThrowSystemError("no random bytes for a download link");
  }
  std::string secret;
  for (const uint8_t b : random) {
    char hex[3];
    std::snprintf(hex, sizeof hex, "%02x", b);
    secret += hex;
  }
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  DropExpired(now);
  // Bounded: a caller with the token cannot grow this without end.
  if (links_.size() >= 10000) {
    throw Error(ErrorKind::kBusy,
                "too many download links waiting to be used; try again in a "
                "minute");
  }
  links_[secret] = {target, now + kLifetime};
  return secret;
}

std::optional<std::string> DownloadLinks::Redeem(const std::string& secret) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  DropExpired(now);
  const auto it = links_.find(secret);
  if (it == links_.end()) {
    return std::nullopt;
  }
  std::string target = std::move(it->second.target);
  links_.erase(it);
  return target;
}

void DownloadLinks::DropExpired(std::chrono::steady_clock::time_point now) {
  std::erase_if(links_,
                [now](const auto& l) { return l.second.expires <= now; });
}

}  // namespace sendense::web
