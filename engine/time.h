#pragma once

// Times as Sendense writes them: always UTC, to the second.

#include <chrono>
#include <cstdint>
#include <string>

namespace sendense {

// "2026-11-24T09.00.00Z": a point's name (no ':', safe for SMB clients).
std::string TimeName(std::chrono::system_clock::time_point t);
// "2026-11-24T09:00:00Z": timestamps in the catalog, JSON and logs.
std::string IsoTime(std::chrono::system_clock::time_point t);
std::string NowIso();
// IsoTime of `ns` nanoseconds since the epoch (guest file times).
std::string IsoTimeOfNs(int64_t ns);
// Seconds since the epoch of an IsoTime; 0 when it is not one.
int64_t ParseIsoTime(const std::string& iso);

}  // namespace sendense
