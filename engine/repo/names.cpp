#include "engine/repo/names.h"

#include <ctime>

#include "engine/error.h"

namespace sendense {
namespace {

std::string Format(std::chrono::system_clock::time_point t, const char* fmt) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, fmt, &tm);
  return buf;
}

}  // namespace

void ValidateName(const std::string& what, const std::string& name) {
  bool ok =
      !name.empty() && name.size() <= 64 && name[0] != '.' && name[0] != '-';
  for (char c : name) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                         c == '-';
    ok = ok && allowed;
  }
  if (!ok) {
    throw Error(ErrorKind::kInvalidArgument,
                "invalid " + what + " '" + name +
                    "': use 1-64 letters, digits, '.', '_' or '-', not "
                    "starting with '.' or '-'");
  }
}

std::string TimeName(std::chrono::system_clock::time_point t) {
  return Format(t, "%Y-%m-%dT%H.%M.%SZ");
}

std::string IsoTime(std::chrono::system_clock::time_point t) {
  return Format(t, "%Y-%m-%dT%H:%M:%SZ");
}

}  // namespace sendense
