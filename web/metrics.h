#pragma once

// GET /metrics: Prometheus text (docs/api.md lists the series).

#include "web/routes.h"

namespace sendense::web {

Response Metrics(Call& call);

}  // namespace sendense::web
