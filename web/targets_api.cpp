#include "web/targets_api.h"

#include "engine/catalog/targets.h"
#include "engine/copy/s3_target.h"
#include "engine/copy/target_prune.h"
#include "web/api_json.h"
#include "web/retention_api.h"

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
  retention::PruneRequest request;
  if (const std::string bad = ReadPruneBody(body, request); !bad.empty()) {
    return Fail(400, bad);
  }
  if (body.contains("vm")) {
    if (!body["vm"].is_string()) {
      return Fail(400, "vm is a VM's name");
    }
    request.vm = body["vm"].get<std::string>();
  }
  if (request.dry_run) {
    return Json(200, retention::PrunesJson(
                         copy::PruneTarget(call.ctx.repo, target, request)));
  }
  return Submitted(call.ctx.jobs,
                   call.ctx.jobs.SubmitTargetPrune(target.name, request),
                   "a prune of target " + target.name);
}

}  // namespace sendense::web
