#pragma once

// The API's retention and verify routes (docs/api.md).

#include <nlohmann/json.hpp>
#include <string>

#include "engine/jobs/job_runner.h"
#include "engine/repo/catalog_pool.h"
#include "engine/repo/repository.h"
#include "engine/retention/prune.h"
#include "web/routes.h"

namespace sendense::web {

// POST /api/v1/vms/NAME/prune {"policy": {...}, "dry_run": false}: a dry
// run answers at once with the plan; otherwise a prune job (202).
Response PruneVm(Call& call);

// A prune route's body, {"policy": {...}, "dry_run": false} (each
// optional), into `request`: "" or why it is not one (for a 400). A bad
// policy throws ParsePolicyJson's error.
std::string ReadPruneBody(const nlohmann::json& body,
                          retention::PruneRequest& request);

// PUT /api/v1/vms/NAME/retention {"keep_daily": 7, ...}: the VM's stored
// policy ({} for none).
Response SetRetention(Call& call);

// DELETE /api/v1/backups/VM/POINT: a forget job (202), after the checks
// that need no lock (unknown point 404, the newest 400).
Response ForgetPoint(Call& call);

// POST /api/v1/verify {"vm": NAME, "point": POINT} (both optional): a
// verify job (202) whose result is the verify report.
Response StartVerify(Call& call);
// POST /copies {"to", "vm"}: a copy job to another repository.
Response StartCopy(Call& call);

}  // namespace sendense::web
