#pragma once

// Programs a backup of a domain on this machine runs beside libvirt:
// qemu-img and qemu-nbd on the domain's own images.

#include <sys/types.h>

#include <string>
#include <vector>

namespace sendense::libvirt {

// Starts `argv`; the child's pid.
pid_t Spawn(const std::vector<std::string>& argv);

// Runs `argv` to its end, its output discarded; whether it succeeded.
bool RunQuietly(const std::vector<std::string>& argv);

// Waits for `socket` to appear; false when `pid` ended first.
bool WaitForSocket(pid_t pid, const std::string& socket);

}  // namespace sendense::libvirt
