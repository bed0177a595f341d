#pragma once

// Routes of the copy targets (target list; docs/offsite.md). The
// appliance's admin's only, as hosts are.

#include "web/routes.h"

namespace sendense::web {

Response ListTargets(Call& call);
// POST /api/v1/targets/NAME/prune {"vm", "policy", "dry_run"} (each
// optional): the target pruned by its own policy (or the one given).
Response PruneTargetRoute(Call& call);

}  // namespace sendense::web
