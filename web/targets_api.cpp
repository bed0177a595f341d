#include "web/targets_api.h"

#include "engine/catalog/targets.h"
#include "engine/copy/s3_target.h"
#include "engine/copy/target_prune.h"
#include "web/api_json.h"

namespace sendense::web {

using json = nlohmann::json;

// Each target with whether it can take copies now, what it holds, and
// the newest copy of each VM: {"targets": [TARGET + "ready", "problem",
// "used_bytes", "free_bytes", "last_copies"]} (asks each S3 gateway).
Response ListTargets(Call& call) {
  Targets targets(call.ctx.repo.CatalogPath());
  json list = json::array();
  for (const auto& t : targets.List()) {
    json j = TargetJson(t);
    const std::string problem = copy::TargetProblem(t);
    j["ready"] = problem.empty();
    j["problem"] = problem.empty() ? json(nullptr) : json(problem);
    const auto usage = problem.empty() ? copy::TargetUsage(t) : copy::Usage{};
    j["used_bytes"] = usage.used ? json(*usage.used) : json(nullptr);
    j["free_bytes"] = usage.free ? json(*usage.free) : json(nullptr);
    json copies = json::array();
    for (const auto& c : targets.LastCopies(t)) {
      copies.push_back(
          {{"vm", c.vm}, {"backup", c.backup}, {"copied_at", c.copied_at}});
    }
    j["last_copies"] = copies;
    list.push_back(j);
  }
  return Json(200, {{"targets", list}});
}

Response PruneTargetRoute(Call& call) {
  const Target target =
      Targets(call.ctx.repo.CatalogPath()).Require(call.args[0]);
  const json body = BodyJson(call.req.body());
  if (!body.is_object()) {
    return Fail(400,
                "expected {\"vm\": NAME, \"policy\": {\"keep_daily\": 7, "
                "...}, \"dry_run\": false}");
  }
  retention::PruneRequest request;
  if (body.contains("vm")) {
    if (!body["vm"].is_string()) {
      return Fail(400, "vm is a VM's name");
    }
    request.vm = body["vm"].get<std::string>();
  }
  if (body.contains("policy")) {
    request.policy = retention::ParsePolicyJson(body["policy"]);
  }
  const auto dry_run = body.value("dry_run", json(false));
  if (!dry_run.is_boolean()) {
    return Fail(400, "dry_run is true or false");
  }
  request.dry_run = dry_run.get<bool>();
  if (request.dry_run) {
    json list = json::array();
    for (const auto& r : copy::PruneTarget(call.ctx.repo, target, request)) {
      list.push_back(retention::PruneReportJson(r));
    }
    return Json(200, {{"prunes", list}});
  }
  return Submitted(call.ctx.jobs,
                   call.ctx.jobs.SubmitTargetPrune(target.name, request),
                   "a prune of target " + target.name);
}

}  // namespace sendense::web
