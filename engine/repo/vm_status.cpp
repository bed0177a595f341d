#include "engine/repo/vm_status.h"

#include <algorithm>
#include <map>

#include "engine/catalog/record_json.h"
#include "engine/time.h"

namespace sendense {
namespace {

Health HealthOf(const VmStatus& s, int64_t now) {
  if (Damaged(s.verify_state)) {
    return Health::kDamaged;
  }
  if (s.last_failed) {
    return Health::kFailed;
  }
  if (s.points == 0) {
    return Health::kNever;
  }
  if (s.config && !s.config->schedule.manual()) {
    const int64_t period = s.config->schedule.period();
    if (now - ParseIsoTime(s.last_complete_at) > period + period / 2) {
      return Health::kLate;
    }
  }
  return Health::kOk;
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
    s.verify_state = std::max(s.verify_state, VerifyStateOf(b));
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
      {"schedule", s.config ? text_or_null(s.config->schedule.text()) : json()},
      {"schedule_text", s.config ? s.config->schedule.Describe() : "manual"},
      {"retention", retention},
      {"health", StateName(s.health)},
      {"last_backup", s.last ? BackupJson(*s.last) : json(nullptr)},
      {"last_complete_at", text_or_null(s.last_complete_at)},
      {"age_seconds", s.age_seconds < 0 ? json(nullptr) : json(s.age_seconds)},
      {"points", s.points},
      {"bytes_stored", s.bytes_stored},
      {"verify_state",
       s.points == 0 ? json(nullptr) : json(StateName(s.verify_state))}};
}

PointTally TallyPoints(const std::vector<BackupRecord>& backups) {
  PointTally t;
  for (const auto& b : backups) {
    if (b.state != BackupState::kComplete) {
      continue;
    }
    ++t.backups;
    for (const auto& p : b.points) {
      t.copy_seconds += p.seconds;
      t.damaged += Damaged(p.verify_state);
      t.unverified += p.verify_state == VerifyState::kUnverified;
      t.last_verified = std::max(t.last_verified, ParseIsoTime(p.verified_at));
    }
  }
  return t;
}

}  // namespace sendense
