#include "engine/log.h"

#include <sys/stat.h>
#include <syslog.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

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

// True when stderr is systemd's journal stream (JOURNAL_STREAM names its
// device and inode), as under a service unit.
bool StderrIsJournal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  unsigned long long dev = 0, ino = 0;
  struct stat st {};
  return stream != nullptr &&
         std::sscanf(stream, "%llu:%llu", &dev, &ino) == 2 &&
         ::fstat(2, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

}  // namespace

void Log(LogLevel level, const std::string& line) {
  static const bool journal = StderrIsJournal();
  if (to_syslog) {
    ::syslog(Priority(level), "%s", line.c_str());
  } else if (journal) {
    // sd-daemon(3) prefixes: the journal records each line's priority
    // (`journalctl -u sendense -p err`) and adds the name itself.
    std::fprintf(stderr, "<%d>%s\n", Priority(level), line.c_str());
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
