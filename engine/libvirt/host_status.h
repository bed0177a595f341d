#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/catalog/hosts.h"

namespace sendense::libvirt {

// What a host's libvirt says now.
struct HostStatus {
  bool reachable = false;
  std::string error;  // why not, in libvirt's words
  std::string libvirt_version;
  std::string qemu_version;
};

// Connects to the host's libvirt once.
HostStatus ProbeHost(const Host& host);

// What keeps the host's VMs from being backed up, one sentence each; none
// when it is ready. `status`: ProbeHost's answer.
std::vector<std::string> HostProblems(const Host& host,
                                      const HostStatus& status);

// What would make the host's backup jobs start faster, one sentence each
// (QEMU without Diffie-Hellman parameters in its server certificates'
// directory makes new ones for every TLS server it starts: 0.1-1 s).
// Looked at only on hosts reached by qemu+ssh://.
std::vector<std::string> HostAdvice(const Host& host);

// HostJson with the status and the host's VMs.
nlohmann::json HostStatusJson(const Host& host,
                              const HostStatus& status,
                              const std::vector<std::string>& vms);

}  // namespace sendense::libvirt
