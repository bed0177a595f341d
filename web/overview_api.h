#pragma once

// The API's read-only views for people (the dashboard): the overview of
// every VM, and searches of the guest file index (docs/api.md).

#include <string>

#include "web/routes.h"

namespace sendense::web {

// GET /api/v1/overview: {"now", "vms": [VM STATUS...], "repository":
// CAPACITY, "jobs": [JOB...]} (jobs running or queued, then the 20 that
// ended last).
Response Overview(Call& call);

// GET /api/v1/find?pattern=P[&vm=V][&limit=N]: {"matches": [...],
// "truncated"} as `find --json`, at most N (1 to 10000, default 1000).
Response FindFiles(Call& call);

// GET /api/v1/history?vm=V&path=[FS:]PATH: {"versions": [...]} as
// `history --json`.
Response FileHistoryOf(Call& call);
// GET /api/v1/diff?vm=&from=&to=[&path=][&limit=]: GuestDiffJson.
Response GuestDiffOf(Call& call);

}  // namespace sendense::web
