#include "engine/catalog/record_json.h"

#include <algorithm>

#include "engine/error.h"

namespace sendense {

nlohmann::json PointJson(const PointRecord& p) {
  return {
      {"disk", p.disk},
      {"kind", KindName(p.kind)},
      {"reason", p.reason},
      {"file", p.file},
      {"virtual_size", p.virtual_size},
      {"bytes_read", p.bytes_read},
      {"bytes_stored", p.bytes_stored},
      {"seconds", p.seconds},
      {"disk_digest", p.disk_digest.empty() ? nlohmann::json(nullptr)
                                            : nlohmann::json(p.disk_digest)},
      {"immutable_until", p.immutable_until.empty()
                              ? nlohmann::json(nullptr)
                              : nlohmann::json(p.immutable_until)},
      {"encrypted", p.encrypted},
      {"verify",
       {{"state", StateName(p.verify_state)},
        {"checked_at", p.verified_at},
        {"problems",
         nlohmann::json::parse(p.verify_problems, nullptr, false)}}}};
}

VerifyState VerifyStateOf(const BackupRecord& b) {
  if (b.points.empty()) {
    return VerifyState::kUnverified;
  }
  VerifyState worst = VerifyState::kOk;
  for (const auto& p : b.points) {
    worst = std::max(worst, p.verify_state);
  }
  return worst;
}

bool IsSuspicious(const BackupRecord& b) {
  if (b.suspicion.empty()) {
    return false;
  }
  const auto j = nlohmann::json::parse(b.suspicion, nullptr, false);
  return j.is_object() && j.value("state", "") == "suspicious";
}

nlohmann::json BackupJson(const BackupRecord& b) {
  nlohmann::json points = nlohmann::json::array();
  for (const auto& p : b.points) {
    points.push_back(PointJson(p));
  }
  return {{"vm", b.vm},
          {"name", b.name},
          {"id", b.id},
          {"kind", b.kind()},
          {"state", StateName(b.state)},
          {"started_at", b.started_at},
          {"finished_at", b.finished_at},
          {"error", b.error},
          {"verify_state", StateName(VerifyStateOf(b))},
          // NBD sources: whatever the server served, as a crash would leave it.
          {"consistency",
           b.consistency.empty() ? "crash-consistent" : b.consistency},
          {"checkpoint", b.checkpoint.empty() ? nlohmann::json(nullptr)
                                              : nlohmann::json(b.checkpoint)},
          {"copies", b.copies},
          {"suspicion", b.suspicion.empty() ? nlohmann::json(nullptr)
                                            : nlohmann::json::parse(
                                                  b.suspicion, nullptr, false)},
          {"points", points}};
}

nlohmann::json VmJson(const VmConfig& vm) {
  nlohmann::json disks = nlohmann::json::object();
  nlohmann::json tls = nullptr;
  for (const auto& d : vm.disks) {
    disks[d.name] = d.uri;
    if (!d.tls_certificates.empty()) {
      tls = d.tls_certificates;
    }
  }
  nlohmann::json libvirt = nullptr;
  if (vm.libvirt) {
    libvirt = {
        {"uri", vm.libvirt->uri},
        {"host", vm.libvirt->host.empty() ? nlohmann::json(nullptr)
                                          : nlohmann::json(vm.libvirt->host)},
        {"domain", vm.libvirt->domain},
        {"disks", vm.libvirt->disks},
        {"exclude", vm.libvirt->exclude}};
  }
  return {
      {"name", vm.name},
      {"disks", disks},
      {"nbd_tls_certificates", tls},
      {"bitmap", vm.bitmap},
      {"libvirt", libvirt},
      {"schedule", vm.schedule.text()},
      {"schedule_text", vm.schedule.Describe()},
      {"retention", retention::PolicyJson(vm.retention)},
      {"copy_to", vm.copy_to},
      {"immutable_days", vm.immutable_days ? nlohmann::json(*vm.immutable_days)
                                           : nlohmann::json(nullptr)}};
}

VmConfig ParseVmJson(const nlohmann::json& body) {
  VmConfig vm;
  try {
    vm.name = body.at("name").get<std::string>();
    const nlohmann::json disks = body.value("disks", nlohmann::json::object());
    const auto tls = body.find("nbd_tls_certificates");
    for (const auto& [disk, uri] : disks.items()) {
      vm.disks.push_back(DiskSource::At(disk, uri.get<std::string>()));
      if (tls != body.end() && !tls->is_null()) {
        vm.disks.back().tls_certificates = tls->get<std::string>();
      }
    }
    vm.bitmap = body.value("bitmap", "");
    if (body.contains("libvirt") && !body["libvirt"].is_null()) {
      const auto& l = body["libvirt"];
      LibvirtSource source;
      source.uri = l.value("uri", source.uri);
      if (l.contains("host") && l["host"].is_string()) {
        source.host = l["host"].get<std::string>();  // the host's URI then
        source.uri.clear();
      }
      source.domain = l.value("domain", vm.name);
      source.disks = l.value("disks", std::vector<std::string>{});
      source.exclude = l.value("exclude", std::vector<std::string>{});
      vm.libvirt = source;
    }
    vm.schedule = Schedule::Parse(body.value("schedule", ""));
    vm.retention = retention::ParsePolicyJson(
        body.value("retention", nlohmann::json::object()));
    vm.copy_to = body.value("copy_to", "");
    if (body.contains("immutable_days") && !body["immutable_days"].is_null()) {
      vm.immutable_days = body["immutable_days"].get<double>();
    }
  } catch (const nlohmann::json::exception&) {
    throw Error(ErrorKind::kInvalidArgument,
                "expected {\"name\": ..., \"disks\": {\"sda\": \"nbd...\"}, "
                "\"bitmap\": ..., \"schedule\": ..., \"retention\": {...}, "
                "\"copy_to\": REPO2, \"immutable_days\": N} "
                "or, for a libvirt VM, \"libvirt\": {\"uri\", \"domain\", "
                "\"disks\": [...], \"exclude\": [...]} instead of disks");
  }
  return vm;
}

nlohmann::json GuestIndexJson(const std::optional<IndexRun>& run) {
  if (!run) {
    return {{"state", "not-indexed"},
            {"filesystems", 0},
            {"finished_at", ""},
            {"error", ""}};
  }
  const char* state = !run->error.empty()     ? "failed"
                      : run->filesystems == 0 ? "no-filesystems"
                                              : "indexed";
  return {{"state", state},
          {"filesystems", run->filesystems},
          {"finished_at", run->finished_at},
          {"error", run->error}};
}

nlohmann::json GuestFilesystemJson(const GuestFilesystem& fs) {
  return {{"name", fs.name},
          {"device", fs.device},
          {"fstype", fs.fstype},
          {"state", fs.state},
          {"error", fs.error},
          {"files", fs.files},
          {"regular_files", fs.regular_files},
          {"mapped_files", fs.mapped_files},
          {"file_bytes", fs.file_bytes},
          {"mapped_bytes", fs.mapped_bytes}};
}

}  // namespace sendense
