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

// HostJson with the status and the host's VMs.
nlohmann::json HostStatusJson(const Host& host,
                              const HostStatus& status,
                              const std::vector<std::string>& vms);

}  // namespace sendense::libvirt
