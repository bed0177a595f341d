#include "web/targets_api.h"

#include "engine/catalog/targets.h"
#include "engine/copy/s3_target.h"
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

}  // namespace sendense::web
