// How each VM's health is judged for the overview (engine/repo/vm_status).

#include "engine/repo/vm_status.h"

#include <gtest/gtest.h>

#include "engine/time.h"

namespace sendense {
namespace {

constexpr int64_t kNow = 1796300000;  // 2026-12-03

BackupRecord Backup(const std::string& vm,
                    int64_t started,
                    BackupState state,
                    const std::string& verify = "ok",
                    uint64_t stored = 100) {
  BackupRecord b;
  b.vm = vm;
  b.name = std::to_string(started);
  b.started_at = IsoTime(std::chrono::system_clock::from_time_t(started));
  b.state = state;
  PointRecord p;
  p.bytes_stored = stored;
  p.verify_state = verify;
  b.points.push_back(p);
  return b;
}

VmConfig Config(const std::string& name, const std::string& schedule = "") {
  VmConfig c;
  c.name = name;
  c.schedule = schedule;
  return c;
}

std::map<std::string, VmStatus> Statuses(
    const std::vector<VmConfig>& configs,
    const std::vector<BackupRecord>& backups) {
  std::map<std::string, VmStatus> out;
  for (auto& s : VmStatuses(configs, backups, kNow)) {
    out[s.name] = s;
  }
  return out;
}

TEST(VmStatusTest, HealthFromScheduleBackupsAndVerify) {
  const auto s = Statuses(
      {Config("fresh", "daily@02:00"), Config("late", "daily@02:00"),
       Config("manual"), Config("never", "hourly"), Config("failed"),
       Config("damaged"), Config("hourly", "hourly")},
      {Backup("fresh", kNow - 30 * 3600, BackupState::kComplete),
       Backup("late", kNow - 37 * 3600, BackupState::kComplete),
       Backup("manual", kNow - 400 * 86400, BackupState::kComplete),
       Backup("failed", kNow - 7200, BackupState::kComplete),
       Backup("failed", kNow - 3600, BackupState::kFailed),
       Backup("damaged", kNow - 7200, BackupState::kComplete, "damaged"),
       Backup("damaged", kNow - 3600, BackupState::kComplete,
              "depends-on-damaged"),
       Backup("hourly", kNow - 6000, BackupState::kComplete),
       Backup("gone", kNow - 60, BackupState::kComplete)});
  EXPECT_EQ(s.at("fresh").health, "ok");  // 30 h < 36 h
  EXPECT_EQ(s.at("late").health, "late");
  EXPECT_EQ(s.at("manual").health, "ok") << "no schedule: never late";
  EXPECT_EQ(s.at("never").health, "never");
  EXPECT_EQ(s.at("never").age_seconds, -1);
  EXPECT_EQ(s.at("failed").health, "failed");
  EXPECT_EQ(s.at("failed").points, 1u);
  EXPECT_EQ(s.at("damaged").health, "damaged");
  EXPECT_EQ(s.at("damaged").verify_state, "damaged");
  EXPECT_EQ(s.at("damaged").bytes_stored, 200u);
  EXPECT_EQ(s.at("hourly").health, "late");  // 6000 s > 1.5 h
  EXPECT_FALSE(s.at("gone").config.has_value());
  EXPECT_EQ(s.at("gone").age_seconds, 60);
}

TEST(VmStatusTest, ARunningBackupIsTheLastButDoesNotHideAFailure) {
  const auto s = Statuses({Config("a")},
                          {Backup("a", kNow - 7200, BackupState::kComplete),
                           Backup("a", kNow - 3600, BackupState::kInterrupted),
                           Backup("a", kNow - 10, BackupState::kRunning)});
  EXPECT_EQ(s.at("a").last->state, BackupState::kRunning);
  EXPECT_EQ(s.at("a").health, "failed");
  const auto json = VmStatusJson(s.at("a"));
  EXPECT_EQ(json["last_backup"]["state"], "running");
  EXPECT_EQ(json["points"], 1);
  EXPECT_EQ(json["age_seconds"], 7200);
  EXPECT_EQ(json["schedule"], nullptr);
}

TEST(VmStatusTest, SchedulePeriods) {
  EXPECT_EQ(SchedulePeriod(""), 0);
  EXPECT_EQ(SchedulePeriod("hourly"), 3600);
  EXPECT_EQ(SchedulePeriod("every@15m"), 900);
  EXPECT_EQ(SchedulePeriod("every@6h"), 21600);
  EXPECT_EQ(SchedulePeriod("daily@02:00"), 86400);
}

}  // namespace
}  // namespace sendense
