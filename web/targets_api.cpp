#include "web/targets_api.h"

#include "engine/catalog/targets.h"
#include "engine/copy/s3_target.h"
#include "web/api_json.h"

namespace sendense::web {

using json = nlohmann::json;

// Each target with whether it can take copies now (one request to each
// S3 gateway): {"targets": [TARGET + "ready", "problem"]}.
Response ListTargets(Call& call) {
  json list = json::array();
  for (const auto& t : Targets(call.ctx.repo.CatalogPath()).List()) {
    json j = TargetJson(t);
    const std::string problem = copy::TargetProblem(t);
    j["ready"] = problem.empty();
    j["problem"] = problem.empty() ? json(nullptr) : json(problem);
    list.push_back(j);
  }
  return Json(200, {{"targets", list}});
}

}  // namespace sendense::web
