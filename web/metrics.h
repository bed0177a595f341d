#pragma once

// GET /metrics: Prometheus text (docs/api.md lists the series).

#include "web/api.h"

namespace sendense::web {

Response Metrics(ApiContext& ctx);

}  // namespace sendense::web
