#pragma once

#include <string>

// How a failed libvirt call becomes an Error, for the files that call
// libvirt (connection.cpp, volume_upload.cpp).

namespace sendense::libvirt {

// The reason libvirt gave for the call that just failed. Take it before
// calling libvirt again: every public call (virDomainGetName or a Free
// too) clears it.
std::string LastError();

// Error kIo "what: why".
[[noreturn]] void Fail(const std::string& what, const std::string& why);
// Error kIo "what: " and LastError().
[[noreturn]] void Fail(const std::string& what);

// Makes libvirt keep its errors for LastError instead of printing them
// to stderr.
void KeepErrorsQuiet();

}  // namespace sendense::libvirt
