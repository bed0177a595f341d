#include "web/hosts_api.h"

#include "engine/catalog/hosts.h"
#include "engine/error.h"
#include "engine/libvirt/host_status.h"
#include "web/api_json.h"

namespace sendense::web {

using json = nlohmann::json;

// Each host with what its libvirt says now (one connection per host).
Response ListHosts(Call& call) {
  Hosts hosts(call.ctx.repo.CatalogPath());
  json list = json::array();
  for (const auto& h : hosts.List()) {
    list.push_back(
        libvirt::HostStatusJson(h, libvirt::ProbeHost(h), hosts.VmsOn(h.name)));
  }
  return Json(200, {{"hosts", list}});
}

// {"name", "libvirt", "nbd_address", "nbd_tls", "insecure_nbd",
// "nbd_ports": "10809-10839", "max_jobs", "server_tls"}
Response AddHostRoute(Call& call) {
  const json body = BodyJson(call.req.body());
  Host h;
  try {
    h.name = body.at("name").get<std::string>();
    h.libvirt = body.at("libvirt").get<std::string>();
    h.nbd_address = body.value("nbd_address", "");
    if (body.contains("nbd_tls") && !body["nbd_tls"].is_null()) {
      h.nbd_tls = body["nbd_tls"].get<std::string>();
    }
    h.insecure_nbd = body.value("insecure_nbd", false);
    h.server_tls = body.value("server_tls", "");
    if (body.contains("max_jobs") && !body["max_jobs"].is_null()) {
      h.max_jobs = body["max_jobs"].get<int64_t>();
    }
    const std::string ports = body.value("nbd_ports", "");
    if (!ports.empty() &&
        std::sscanf(ports.c_str(), "%d-%d", &h.port_min, &h.port_max) != 2) {
      return Fail(400, "\"nbd_ports\" is a range such as \"10809-10839\"");
    }
  } catch (const json::exception&) {
    return Fail(400,
                "give \"name\" and \"libvirt\" as strings (and optionally "
                "\"nbd_address\", \"nbd_tls\", \"insecure_nbd\", "
                "\"nbd_ports\", \"max_jobs\", \"server_tls\")");
  }
  Hosts(call.ctx.repo.CatalogPath()).Add(h);
  return Json(201, HostJson(h));
}

Response RemoveHostRoute(Call& call) {
  Hosts(call.ctx.repo.CatalogPath()).Remove(call.args[0]);
  return Json(200, {{"removed", call.args[0]}});
}

}  // namespace sendense::web
