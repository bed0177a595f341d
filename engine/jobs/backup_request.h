#pragma once

#include "engine/backup/backup_job.h"
#include "engine/catalog/vm_configs.h"

namespace sendense {

// The backup of a configured VM: its NBD disks and bitmap, or its libvirt
// domain (libvirt::Opener).
BackupRequest BackupRequestFor(const VmConfig& vm);

}  // namespace sendense
