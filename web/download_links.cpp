#include "web/download_links.h"

#include "engine/access/credentials.h"
#include "engine/error.h"

namespace sendense::web {

std::string DownloadLinks::Issue(const std::string& target,
                                 const access::Principal& who) {
  const std::string secret = access::RandomHex(16);
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  DropExpired(now);
  // Bounded: a caller with the token cannot grow this without end.
  if (links_.size() >= 10000) {
    throw Error(ErrorKind::kBusy,
                "too many download links waiting to be used; try again in a "
                "minute");
  }
  links_[secret] = {target, who, now + kLifetime};
  return secret;
}

std::optional<DownloadLinks::Link> DownloadLinks::Redeem(
    const std::string& secret) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  DropExpired(now);
  const auto it = links_.find(secret);
  if (it == links_.end()) {
    return std::nullopt;
  }
  Link link = std::move(it->second);
  links_.erase(it);
  return link;
}

void DownloadLinks::DropExpired(std::chrono::steady_clock::time_point now) {
  std::erase_if(links_,
                [now](const auto& l) { return l.second.expires <= now; });
}

}  // namespace sendense::web
