#include "web/jobs_api.h"

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "web/api_json.h"

namespace sendense::web {
namespace {

// The job the route names; Error kNotFound when there is none.
JobStatus RequireJob(Call& call) {
  const std::string& text = call.args[0];
  if (text.empty() || text.size() > 18 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    throw Error(ErrorKind::kInvalidArgument, "a job id is a number");
  }
  const auto job = call.ctx.jobs.Get(std::stoll(text));
  if (!job) {
    throw Error(ErrorKind::kNotFound, "no such job");
  }
  return *job;
}

}  // namespace

Response ListJobs(Call& call) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& j : call.ctx.jobs.List()) {
    list.push_back(JobJson(j));
  }
  return Json(200, {{"jobs", list}});
}

Response GetJob(Call& call) {
  return Json(200, JobJson(RequireJob(call)));
}

Response CancelJob(Call& call) {
  const int64_t id = RequireJob(call).id;
  if (!call.ctx.jobs.Cancel(id)) {
    return Fail(409, Active(call.ctx.jobs.Get(id)->state)
                         ? "a running prune is not stopped halfway"
                         : "the job has already ended");
  }
  return Json(202, JobJson(*call.ctx.jobs.Get(id)));
}

}  // namespace sendense::web
