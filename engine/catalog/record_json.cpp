#include "engine/catalog/record_json.h"

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
      {"verify",
       {{"state", p.verify_state},
        {"checked_at", p.verified_at},
        {"problems",
         nlohmann::json::parse(p.verify_problems, nullptr, false)}}}};
}

std::string VerifyStateOf(const BackupRecord& b) {
  // The worst of its points.
  static const char* const kOrder[] = {"damaged", "depends-on-damaged",
                                       "unverified", "ok"};
  for (const char* state : kOrder) {
    for (const auto& p : b.points) {
      if (p.verify_state == state) {
        return state;
      }
    }
  }
  return "unverified";
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
          {"verify_state", VerifyStateOf(b)},
          {"points", points}};
}

nlohmann::json VmJson(const VmConfig& vm) {
  nlohmann::json disks = nlohmann::json::object();
  for (const auto& d : vm.disks) {
    disks[d.name] = d.uri;
  }
  return {{"name", vm.name},
          {"disks", disks},
          {"bitmap", vm.bitmap},
          {"schedule", vm.schedule},
          {"retention", retention::PolicyJson(vm.retention)}};
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

}  // namespace sendense
