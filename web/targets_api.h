#pragma once

// Routes of the copy targets (target list; docs/offsite.md). The
// appliance's admin's only, as hosts are.

#include "web/routes.h"

namespace sendense::web {

Response ListTargets(Call& call);

}  // namespace sendense::web
