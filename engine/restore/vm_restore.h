#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/restore/restore.h"

namespace sendense::restore {

struct VmRestoreRequest {
  std::string vm;
  std::string point;      // "" for the newest complete backup
  std::string name;       // the new libvirt domain
  std::string directory;  // where the disks go: <name>-<disk>.qcow2
  bool force = false;     // replace existing disk files
};

struct VmRestoreReport {
  std::string vm, backup, domain, uri;
  std::vector<RestoreReport> disks;
};

// {"vm", "backup", "domain", "uri", "disks": [RESTORE REPORT...]}
nlohmann::json VmRestoreReportJson(const VmRestoreReport& report);

// Brings a libvirt VM back whole from a point: every disk restored as a
// standalone QCOW2 in `directory`, then the domain XML recorded with the
// point defined (not started) as `name` at the VM's libvirt URI, its disks
// pointing at the restored files (libvirt::RestoredDomainXml). Refuses,
// before writing anything, a VM whose backups carry no domain XML, a name
// libvirt already has, a directory that does not exist.
VmRestoreReport RestoreVm(const Repository& repo,
                          const VmRestoreRequest& request,
                          JobProgress& progress);

}  // namespace sendense::restore
