#include "web/retention_api.h"

#include "engine/catalog/names.h"
#include "engine/catalog/record_json.h"
#include "engine/error.h"
#include "engine/retention/prune.h"
#include "web/api_json.h"

namespace sendense::web {

using json = nlohmann::json;

std::string ReadPruneBody(const json& body, retention::PruneRequest& request) {
  if (!body.is_object()) {
    return "expected {\"policy\": {\"keep_daily\": 7, ...}, \"dry_run\": "
           "false}";
  }
  if (body.contains("policy")) {
    request.policy = retention::ParsePolicyJson(body["policy"]);
  }
  const auto dry_run = body.value("dry_run", json(false));
  if (!dry_run.is_boolean()) {
    return "dry_run is true or false";
  }
  request.dry_run = dry_run.get<bool>();
  return "";
}

Response PruneVm(Call& call) {
  JobRunner& jobs = call.ctx.jobs;
  const Repository& repo = call.ctx.repo;
  const std::string& vm = call.args[0];
  retention::PruneRequest request;
  request.vm = vm;
  if (const std::string bad = ReadPruneBody(BodyJson(call.req.body()), request);
      !bad.empty()) {
    return Fail(400, bad);
  }
  retention::CheckPrune(repo, request);
  if (request.dry_run) {
    return Json(200, retention::PrunesJson(retention::Prune(repo, request)));
  }
  return Submitted(jobs, jobs.SubmitPrune(request),
                   "a prune of VM '" + vm + "'");
}

Response SetRetention(Call& call) {
  CatalogPool::Handles& db = call.db();
  const std::string& vm = call.args[0];
  const json body = BodyJson(call.req.body());
  auto config = db.vms->Find(vm);
  if (!config) {
    ThrowNoSuchVm(vm, db.vms->Names());
  }
  config->retention = retention::ParsePolicyJson(body);
  db.vms->Update(*config);
  return Json(200, VmJson(*config));
}

Response ForgetPoint(Call& call) {
  JobRunner& jobs = call.ctx.jobs;
  const std::string& vm = call.args[0];
  const std::string& point = call.args[1];
  retention::CheckForget(call.ctx.repo, vm, {point});
  return Submitted(jobs, jobs.SubmitForget(vm, {point}),
                   "a forget of VM '" + vm + "'");
}

Response StartVerify(Call& call) {
  JobRunner& jobs = call.ctx.jobs;
  const json body = BodyJson(call.req.body());
  verify::VerifyRequest request;
  try {
    request.vm = body.value("vm", "");
    request.point = body.value("point", "");
  } catch (const json::exception&) {
    return Fail(400, "expected {\"vm\": NAME, \"point\": POINT}");
  }
  if (request.vm.empty() && !call.who.tenant.empty()) {
    return Fail(400, "a tenant's verify names its VM (\"vm\")");
  }
  verify::CheckVerifyRequest(request);
  return Submitted(
      jobs, jobs.SubmitVerify(request),
      "a verify of " + (request.vm.empty() ? std::string("every VM")
                                           : "VM '" + request.vm + "'"));
}

Response StartCopy(Call& call) {
  JobRunner& jobs = call.ctx.jobs;
  const json body = BodyJson(call.req.body());
  copy::CopyRequest request;
  try {
    request.to = body.at("to").get<std::string>();
    request.vm = body.value("vm", "");
  } catch (const json::exception&) {
    return Fail(400, "expected {\"to\": REPO2, \"vm\": NAME}");
  }
  if (request.vm.empty() && !call.who.tenant.empty()) {
    return Fail(400, "a tenant's copy names its VM (\"vm\")");
  }
  return Submitted(
      jobs, jobs.SubmitCopy(request),
      "a copy of " + (request.vm.empty() ? std::string("every VM")
                                         : "VM '" + request.vm + "'"));
}

}  // namespace sendense::web
