#include "engine/log.h"

#include <syslog.h>

#include <atomic>
#include <cstdio>

namespace sendense {
namespace {

std::atomic<bool> to_syslog{false};

int Priority(LogLevel level) {
  switch (level) {
    case LogLevel::kInfo:
      return LOG_INFO;
    case LogLevel::kWarning:
      return LOG_WARNING;
    case LogLevel::kError:
      return LOG_ERR;
  }
  return LOG_INFO;
}

}  // namespace

void Log(LogLevel level, const std::string& line) {
  if (to_syslog) {
    ::syslog(Priority(level), "%s", line.c_str());
  } else {
    // One fprintf per line: stdio locks the stream, lines never interleave.
    std::fprintf(stderr, "sendense: %s\n", line.c_str());
  }
}

void LogToSyslog() {
  ::openlog("sendense", LOG_PID, LOG_DAEMON);
  to_syslog = true;
}

}  // namespace sendense
