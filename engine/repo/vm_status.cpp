#include "engine/repo/vm_status.h"

#include <map>

#include "engine/catalog/record_json.h"
#include "engine/time.h"

namespace sendense {
namespace {

int Severity(const std::string& verify_state) {
  if (verify_state == "damaged") {
    return 3;
  }
  if (verify_state == "depends-on-damaged") {
    return 2;
  }
  return verify_state == "unverified" ? 1 : 0;
}

std::string HealthOf(const VmStatus& s, int64_t now) {
  if (Severity(s.verify_state) >= 2) {
    return "damaged";
  }
  if (s.last_failed) {
    return "failed";
  }
  if (s.points == 0) {
    return "never";
  }
  if (s.config && !s.config->schedule.empty()) {
    const int64_t period = SchedulePeriod(s.config->schedule);
    if (now - ParseIsoTime(s.last_complete_at) > period + period / 2) {
      return "late";
    }
  }
  return "ok";
}

}  // namespace

std::vector<VmStatus> VmStatuses(const std::vector<VmConfig>& configs,
                                 const std::vector<BackupRecord>& backups,
                                 int64_t now) {
  std::map<std::string, VmStatus> by_name;
  for (const auto& c : configs) {
    by_name[c.name].config = c;
  }
  for (const auto& b : backups) {
    VmStatus& s = by_name[b.vm];
    s.last = b;
    if (b.state == BackupState::kRunning || b.state == BackupState::kDropping) {
      continue;
    }
    s.last_failed = b.state != BackupState::kComplete;
    if (b.state != BackupState::kComplete) {
      continue;
    }
    ++s.points;
    s.last_complete_at = b.started_at;
    for (const auto& p : b.points) {
      s.bytes_stored += p.bytes_stored;
    }
    const std::string verify = VerifyStateOf(b);
    if (Severity(verify) > Severity(s.verify_state)) {
      s.verify_state = verify;
    }
  }
  std::vector<VmStatus> out;
  for (auto& [name, s] : by_name) {
    s.name = name;
    if (!s.last_complete_at.empty()) {
      s.age_seconds = now - ParseIsoTime(s.last_complete_at);
    }
    s.health = HealthOf(s, now);
    out.push_back(std::move(s));
  }
  return out;
}

nlohmann::json VmStatusJson(const VmStatus& s) {
  using json = nlohmann::json;
  const auto text_or_null = [](const std::string& v) {
    return v.empty() ? json(nullptr) : json(v);
  };
  json retention = json::object();
  if (s.config) {
    retention = VmJson(*s.config)["retention"];
  }
  return {
      {"name", s.name},
      {"configured", s.config.has_value()},
      {"schedule", s.config ? text_or_null(s.config->schedule) : json()},
      {"retention", retention},
      {"health", s.health},
      {"last_backup", s.last ? BackupJson(*s.last) : json(nullptr)},
      {"last_complete_at", text_or_null(s.last_complete_at)},
      {"age_seconds", s.age_seconds < 0 ? json(nullptr) : json(s.age_seconds)},
      {"points", s.points},
      {"bytes_stored", s.bytes_stored},
      {"verify_state", s.points == 0 ? json(nullptr) : json(s.verify_state)}};
}

}  // namespace sendense
