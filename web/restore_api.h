#pragma once

// The API's restore and export routes (docs/api.md).

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/jobs/job_runner.h"
#include "engine/repo/repository.h"
#include "web/http_server.h"

namespace sendense::web {

// POST /api/v1/restores {"vm", "point", "disk", "target", "force"}: a
// restore job (202) whose result is the restore report. File targets must
// lie in `restore_dir` (serve --restore-dir; none: NBD targets only).
Response StartRestore(JobRunner& jobs,
                      const std::string& restore_dir,
                      const nlohmann::json& body);

// /api/v1/exports[/ID]: GET lists or shows, POST {"vm", "point", "disk",
// "writable", "listen"} creates (201; serve supervises it), DELETE
// [?keep_overlay=true] ends one.
Response ExportsRoute(const Repository& repo,
                      http::verb method,
                      const std::vector<std::string>& args,
                      bool keep_overlay,
                      const std::string& body,
                      const std::string& export_tls_dir);

}  // namespace sendense::web
