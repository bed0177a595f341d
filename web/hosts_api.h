#pragma once

// Routes of the hypervisors whose libvirt VMs are backed up (host add,
// list, rm; docs/libvirt.md). The appliance's admin's only: hosts are the
// appliance's, not a tenant's.

#include "web/routes.h"

namespace sendense::web {

Response ListHosts(Call& call);
Response AddHostRoute(Call& call);
Response RemoveHostRoute(Call& call);

}  // namespace sendense::web
