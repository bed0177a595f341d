#include "web/restore_api.h"

#include "engine/error.h"
#include "engine/export/exports.h"
#include "engine/io/file.h"
#include "engine/restore/restore_target.h"
#include "web/api_json.h"

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

}  // namespace

Response StartRestore(JobRunner& jobs,
                      const std::string& restore_dir,
                      const json& body) {
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

Response ExportsRoute(const Repository& repo,
                      http::verb method,
                      const std::vector<std::string>& args,
                      bool keep_overlay,
                      const std::string& body,
                      const std::string& export_tls_dir) {
  const bool get = method == http::verb::get || method == http::verb::head;
  if (args.empty() && get) {
    json list = json::array();
    for (const auto& s : exports::ListExports(repo)) {
      list.push_back(exports::ExportJson(s));
    }
    return Json(200, {{"exports", list}});
  }
  if (args.empty() && method == http::verb::post) {
    const json j = BodyJson(body);
    if (!j.is_object()) {
      return Fail(400, "expected {\"vm\", \"point\", \"disk\", \"writable\"}");
    }
    exports::ExportRequest request;
    ReadPoint(j, request);
    request.writable = Flag(j, "writable");
    request.listen = Text(j, "listen");
    request.tls_dir = export_tls_dir;
    request.owner = "serve";
    if (request.vm.empty()) {
      return Fail(400, "an export needs \"vm\"");
    }
    return Json(201, exports::ExportJson(exports::StartExport(repo, request)));
  }
  if (args.size() == 1) {
    int64_t id = 0;
    try {
      id = std::stoll(args[0]);
    } catch (const std::exception&) {
      return Fail(400, "an export id is a number");
    }
    if (get) {
      return Json(200, exports::ExportJson(exports::GetExport(repo, id)));
    }
    if (method == http::verb::delete_) {
      const std::string kept = exports::EndExport(repo, id, keep_overlay);
      return Json(200,
                  {{"ended", id},
                   {"overlay", kept.empty() ? json(nullptr) : json(kept)}});
    }
  }
  return Fail(404, "no such route");
}

}  // namespace sendense::web
