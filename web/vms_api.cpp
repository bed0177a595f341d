#include "web/vms_api.h"

#include <nlohmann/json.hpp>

#include "engine/catalog/names.h"
#include "engine/catalog/record_json.h"
#include "engine/catalog/vm_configs.h"
#include "engine/jobs/backup_request.h"
#include "engine/repo/vm_removal.h"
#include "web/api_json.h"

namespace sendense::web {
namespace {

using json = nlohmann::json;

VmConfig RequireConfiguredVm(Call& call) {
  auto& vms = *call.db().vms;
  const auto vm = vms.Find(call.args[0]);
  if (!vm) {
    ThrowNoSuchVm(call.args[0], vms.Names());
  }
  return *vm;
}

}  // namespace

Response ListVms(Call& call) {
  json list = json::array();
  for (const auto& vm : call.db().vms->List()) {
    if (call.Sees(vm.name)) {
      list.push_back(VmJson(vm));
    }
  }
  return Json(200, {{"vms", list}});
}

Response AddVm(Call& call) {
  json body;
  try {
    body = json::parse(call.req.body());
  } catch (const std::exception&) {
    return Fail(400, "the body is not JSON");
  }
  VmConfig vm = ParseVmJson(body);
  vm.name = call.Qualify(vm.name);  // a tenant's admin adds its tenant's
  call.db().vms->Add(vm);
  return Json(201, VmJson(vm));
}

Response GetVm(Call& call) {
  return Json(200, VmJson(RequireConfiguredVm(call)));
}

Response RemoveVmRoute(Call& call) {
  return Json(200, VmRemovalJson(RemoveVm(call.ctx.repo, call.args[0])));
}

Response BackUpVm(Call& call) {
  const VmConfig vm = RequireConfiguredVm(call);
  return Submitted(call.ctx.jobs, call.ctx.jobs.Submit(BackupRequestFor(vm)),
                   "a backup of VM '" + vm.name + "'");
}

}  // namespace sendense::web
