#pragma once

// The API's restore and export routes (docs/api.md).

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/jobs/job_runner.h"
#include "engine/repo/repository.h"
#include "web/routes.h"

namespace sendense::web {

// POST /api/v1/restores {"vm", "point", "disk", "target", "force"}: a
// restore job (202) whose result is the restore report. File targets must
// lie in `restore_dir` (serve --restore-dir; none: NBD targets only).
Response StartRestore(Call& call);

// GET /api/v1/exports: {"exports": [EXPORT...]}.
Response ListExports(Call& call);
// POST /api/v1/exports {"vm", "point", "disk", "writable", "listen"}: an
// export (201) that serve supervises.
Response StartExport(Call& call);
// GET /api/v1/exports/ID: the export.
Response GetExport(Call& call);
// DELETE /api/v1/exports/ID[?keep_overlay=true]: ends it.
Response EndExport(Call& call);

}  // namespace sendense::web
