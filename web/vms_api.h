#pragma once

// The API's VM routes (docs/api.md): configured VMs, and backups on demand.

#include "web/routes.h"

namespace sendense::web {

// GET /api/v1/vms: {"vms": [VM...]}.
Response ListVms(Call& call);
// POST /api/v1/vms VM: adds it (201).
Response AddVm(Call& call);
// GET /api/v1/vms/NAME: the VM.
Response GetVm(Call& call);
// DELETE /api/v1/vms/NAME: removes it (what `vm rm` does).
Response RemoveVmRoute(Call& call);
// POST /api/v1/vms/NAME/backup: a backup job (202).
Response BackUpVm(Call& call);

}  // namespace sendense::web
