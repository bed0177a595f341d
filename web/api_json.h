#pragma once

// JSON responses of the API, shared by its route files.

#include <nlohmann/json.hpp>
#include <string>

#include "engine/jobs/job_runner.h"
#include "web/http_server.h"

namespace sendense::web {

// Compact (pipe to `jq` to read); bytes that are not UTF-8 (guest names
// may hold any) become U+FFFD.
inline std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
         "\n";
}

inline Response Json(unsigned status, const nlohmann::json& j) {
  return {status, "application/json", Dump(j), {}, 0, nullptr};
}

inline Response Fail(unsigned status, const std::string& message) {
  return Json(status, {{"error", message}});
}

// A job: {"id", "kind", "vm", "state", "phase", "backup", "error",
// "bytes_total", "bytes_done", "entries_indexed", "rate", "copy_seconds",
// "host", "target", "created_at", "started_at", "finished_at", "result"}.
nlohmann::json JobJson(const JobStatus& j);

// 202 with the job, or 409 naming the job of the same kind already pending.
Response Submitted(JobRunner& jobs,
                   const JobRunner::Submitted& submitted,
                   const std::string& what);

// The request body as JSON ({} when empty); Error kInvalidArgument when it
// is not JSON or a key or text in it holds a NUL byte.
nlohmann::json BodyJson(const std::string& body);

}  // namespace sendense::web
