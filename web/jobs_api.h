#pragma once

// The API's job routes (docs/api.md): what runs, what ran, cancelling.

#include "web/routes.h"

namespace sendense::web {

// GET /api/v1/jobs: {"jobs": [JOB...]}.
Response ListJobs(Call& call);
// GET /api/v1/jobs/ID: the job.
Response GetJob(Call& call);
// POST /api/v1/jobs/ID/cancel: cancels a queued job or a running backup
// (202), 409 for one that has ended or a running prune.
Response CancelJob(Call& call);

}  // namespace sendense::web
