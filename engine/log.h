#pragma once

#include <string>

namespace sendense {

enum class LogLevel { kInfo, kWarning, kError };

// One line per event: "sendense: <line>" on stderr (journald reads it from
// there when systemd runs us), or syslog once a daemon has detached from
// its terminal. Thread-safe.
void Log(LogLevel level, const std::string& line);
// Sends later lines to syslog (facility daemon) instead of stderr.
void LogToSyslog();

}  // namespace sendense
