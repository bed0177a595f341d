#include "engine/time.h"

#include <ctime>

namespace sendense {
namespace {

std::string Format(std::time_t secs, const char* fmt) {
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, fmt, &tm);
  return buf;
}

}  // namespace

std::string TimeName(std::chrono::system_clock::time_point t) {
  return Format(std::chrono::system_clock::to_time_t(t), "%Y-%m-%dT%H.%M.%SZ");
}

std::string IsoTime(std::chrono::system_clock::time_point t) {
  return Format(std::chrono::system_clock::to_time_t(t), "%Y-%m-%dT%H:%M:%SZ");
}

std::string NowIso() {
  return IsoTime(std::chrono::system_clock::now());
}

std::string IsoTimeOfNs(int64_t ns) {
  int64_t secs = ns / 1000000000;
  if (ns < 0 && ns % 1000000000 != 0) {
    --secs;  // before 1970: round down
  }
  return Format(static_cast<std::time_t>(secs), "%Y-%m-%dT%H:%M:%SZ");
}

int64_t ParseIsoTime(const std::string& iso) {
  std::tm tm{};
  if (strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm) == nullptr) {
    return 0;
  }
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace sendense
