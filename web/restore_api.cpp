#include "web/restore_api.h"

#include "engine/error.h"
#include "engine/export/exports.h"
#include "engine/io/file.h"
#include "engine/restore/restore_target.h"
#include "web/api_json.h"
#include "web/url.h"

namespace sendense::web {

using json = nlohmann::json;

namespace {

std::string Text(const json& body, const char* key) {
  const auto v = body.value(key, json(""));
  if (!v.is_string()) {
    throw Error(ErrorKind::kInvalidArgument, std::string(key) + " is a string");
  }
  return v.get<std::string>();
}

bool Flag(const json& body, const char* key) {
  const auto v = body.value(key, json(false));
  if (!v.is_boolean()) {
    throw Error(ErrorKind::kInvalidArgument,
                std::string(key) + " is true or false");
  }
  return v.get<bool>();
}

// The point a request names: "vm", "point", "disk".
template <class Request>
void ReadPoint(const json& body, Request& request) {
  request.vm = Text(body, "vm");
  request.point = Text(body, "point");
  request.disk = Text(body, "disk");
}

// The export the route names; Error kNotFound for none, or another
// tenant's.
exports::ExportStatus VisibleExport(Call& call) {
  const int64_t id = ParseId(call.args[0], "export");
  auto s = exports::GetExport(call.ctx.repo, id);
  if (call.Sees(s.record.vm)) {
    return s;
  }
  // Word for word what a missing one gets.
  throw Error(ErrorKind::kNotFound,
              "no export " + std::to_string(id) + " (see `" +
                  call.ctx.repo.Command("exports") + "`)");
}

}  // namespace

Response StartRestore(Call& call) {
  JobRunner& jobs = call.ctx.jobs;
  const std::string& restore_dir = call.ctx.restore_dir;
  const json body = BodyJson(call.req.body());
  if (!body.is_object()) {
    return Fail(400, "expected {\"vm\", \"point\", \"disk\", \"target\"}");
  }
  restore::RestoreRequest request;
  ReadPoint(body, request);
  request.target = Text(body, "target");
  request.force = Flag(body, "force");
  if (request.vm.empty() || request.target.empty()) {
    return Fail(400, "a restore needs \"vm\" and \"target\"");
  }
  if (!IsNbdUri(request.target)) {
    if (restore_dir.empty()) {
      return Fail(403,
                  "file targets through the API need `serve --restore-dir "
                  "DIR`; NBD targets work without it");
    }
    if (!PathInside(request.target, restore_dir)) {
      return Fail(403, "file targets through the API must lie in " +
                           restore_dir + " (serve --restore-dir)");
    }
  }
  return Submitted(jobs, jobs.SubmitRestore(request),
                   "a restore of VM '" + request.vm + "'");
}

Response ListExports(Call& call) {
  json list = json::array();
  for (const auto& s : exports::ListExports(call.ctx.repo)) {
    if (call.Sees(s.record.vm)) {
      list.push_back(exports::ExportJson(s));
    }
  }
  return Json(200, {{"exports", list}});
}

Response StartExport(Call& call) {
  const json j = BodyJson(call.req.body());
  if (!j.is_object()) {
    return Fail(400, "expected {\"vm\", \"point\", \"disk\", \"writable\"}");
  }
  exports::ExportRequest request;
  ReadPoint(j, request);
  request.writable = Flag(j, "writable");
  request.listen = Text(j, "listen");
  request.tls_dir = call.ctx.export_tls_dir;
  request.owner = "serve";
  if (request.vm.empty()) {
    return Fail(400, "an export needs \"vm\"");
  }
  return Json(
      201, exports::ExportJson(exports::StartExport(call.ctx.repo, request)));
}

Response GetExport(Call& call) {
  return Json(200, exports::ExportJson(VisibleExport(call)));
}

Response EndExport(Call& call) {
  const int64_t id = VisibleExport(call).record.id;
  const std::string kept = exports::EndExport(
      call.ctx.repo, id, QueryParam(call.query, "keep_overlay") == "true");
  return Json(200, {{"ended", id},
                    {"overlay", kept.empty() ? json(nullptr) : json(kept)}});
}

}  // namespace sendense::web
