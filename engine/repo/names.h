#pragma once

#include <chrono>
#include <string>

namespace sendense {

// Checks a VM or disk name given by a user: 1-64 characters of letters,
// digits, '.', '_' and '-', not starting with '.' or '-'. They become
// directory names, so nothing else is allowed. Throws Error
// kInvalidArgument naming `what` ("VM name", "disk name").
void ValidateName(const std::string& what, const std::string& name);

// "2026-11-24T09.00.00Z": a point's name (no ':', safe for SMB clients).
std::string TimeName(std::chrono::system_clock::time_point t);
// "2026-11-24T09:00:00Z": timestamps stored in the catalog.
std::string IsoTime(std::chrono::system_clock::time_point t);

}  // namespace sendense
