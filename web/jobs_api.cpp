#include "web/jobs_api.h"

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "web/api_json.h"
#include "web/url.h"

namespace sendense::web {
namespace {

// The job the route names; Error kNotFound when there is none.
JobStatus RequireJob(Call& call) {
  const auto job = call.ctx.jobs.Get(ParseId(call.args[0], "job"));
  if (!job || !call.Sees(job->vm)) {
    throw Error(ErrorKind::kNotFound, "no such job");
  }
  return *job;
}

}  // namespace

Response ListJobs(Call& call) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& j : call.ctx.jobs.List()) {
    if (call.Sees(j.vm)) {
      list.push_back(JobJson(j));
    }
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
