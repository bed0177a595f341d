#pragma once

#include <string>
#include <vector>

#include "engine/backup/backup_job.h"
#include "engine/catalog/disk_source.h"
#include "engine/libvirt/domain_disks.h"

namespace sendense::libvirt {

// How a backup of the libvirt VM `vm` gets its disks (docs/libvirt.md):
//  - a running domain: a pull-mode libvirt backup job (NBD on a private
//    unix socket) creating a new checkpoint, incremental from the previous
//    point's checkpoint when libvirt still has it (else a full that says
//    why); the guest's filesystems frozen for the checkpoint when its
//    agent answers; a stale job and checkpoints of killed runs are ended
//    first; the job always ends, and a failed backup's checkpoint is
//    deleted (its changes merge into the previous one);
//  - a shut-off domain: its images served read-only by qemu-nbd, with the
//    previous checkpoint's persistent bitmap where the image has it.
// Once published, the checkpoint, the consistency and the domain's XML are
// recorded with the backup and older checkpoints of Sendense are deleted.
BackupSourceOpener Opener(const std::string& vm, const LibvirtSource& source);

struct DiscoveredDomain {
  std::string name;
  bool running = false;
  std::vector<DomainDisk> disks;
};
// The domains of the libvirt at `uri`, with their disks.
std::vector<DiscoveredDomain> Discover(const std::string& uri);

// Error kNotFound unless the libvirt at `uri` has `domain` ("libvirt at
// URI has no domain 'x'; did you mean 'y'?"); its own sentence when that
// libvirt cannot be reached.
void RequireDomain(const std::string& uri, const std::string& domain);

}  // namespace sendense::libvirt
