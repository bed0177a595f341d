#include "web/api_json.h"

#include "engine/error.h"
#include "engine/states.h"

namespace sendense::web {

using json = nlohmann::json;

json JobJson(const JobStatus& j) {
  return {{"id", j.id},
          {"kind", KindName(j.kind)},
          {"vm", j.vm},
          {"state", StateName(j.state)},
          {"phase", StateName(j.phase)},
          {"backup", j.backup},
          {"error", j.error},
          {"bytes_total", j.bytes_total},
          {"bytes_done", j.bytes_done},
          {"entries_indexed", j.entries_indexed},
          {"rate", j.rate},
          {"copy_seconds", j.copy_seconds ? json(*j.copy_seconds) : json()},
          {"host", j.host.empty() ? json() : json(j.host)},
          {"target", j.target.empty() ? json() : json(j.target)},
          {"created_at", j.created_at},
          {"started_at", j.started_at},
          {"finished_at", j.finished_at},
          {"result", j.result}};
}

Response Submitted(JobRunner& jobs,
                   const JobRunner::Submitted& submitted,
                   const std::string& what) {
  const json job = JobJson(*jobs.Get(submitted.id));
  if (!submitted.created) {
    return Json(409, {{"error", what + " is already queued or running (job " +
                                    std::to_string(submitted.id) + ")"},
                      {"job", job}});
  }
  return Json(202, job);
}

namespace {

// Names, paths and URIs never hold a NUL: C APIs would cut them there.
void RefuseNul(const json& j) {
  if (j.is_string()) {
    if (j.get_ref<const std::string&>().find('\0') != std::string::npos) {
      throw Error(ErrorKind::kInvalidArgument,
                  "a text in the body holds a NUL byte (\\u0000)");
    }
  } else if (j.is_structured()) {
    for (const auto& [key, value] : j.items()) {
      if (key.find('\0') != std::string::npos) {
        throw Error(ErrorKind::kInvalidArgument,
                    "a key in the body holds a NUL byte (\\u0000)");
      }
      RefuseNul(value);
    }
  }
}

}  // namespace

json BodyJson(const std::string& body) {
  if (body.empty()) {
    return json::object();
  }
  json j;
  try {
    j = json::parse(body);
  } catch (const std::exception&) {
    throw Error(ErrorKind::kInvalidArgument, "the body is not JSON");
  }
  RefuseNul(j);
  return j;
}

}  // namespace sendense::web
