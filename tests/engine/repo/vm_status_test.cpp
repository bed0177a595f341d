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
                    VerifyState verify = VerifyState::kOk,
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
  c.schedule = Schedule::Parse(schedule);
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
  const auto s =
      Statuses({Config("fresh", "daily@02:00"), Config("late", "daily@02:00"),
                Config("manual"), Config("never", "hourly"), Config("failed"),
                Config("damaged"), Config("hourly", "hourly")},
               {Backup("fresh", kNow - 30 * 3600, BackupState::kComplete),
                Backup("late", kNow - 37 * 3600, BackupState::kComplete),
                Backup("manual", kNow - 400 * 86400, BackupState::kComplete),
                Backup("failed", kNow - 7200, BackupState::kComplete),
                Backup("failed", kNow - 3600, BackupState::kFailed),
                Backup("damaged", kNow - 7200, BackupState::kComplete,
                       VerifyState::kDamaged),
                Backup("damaged", kNow - 3600, BackupState::kComplete,
                       VerifyState::kDependsOnDamaged),
                Backup("hourly", kNow - 6000, BackupState::kComplete),
                Backup("gone", kNow - 60, BackupState::kComplete)});
  EXPECT_EQ(s.at("fresh").health, Health::kOk);  // 30 h < 36 h
  EXPECT_EQ(s.at("late").health, Health::kLate);
  EXPECT_EQ(s.at("manual").health, Health::kOk) << "no schedule: never late";
  EXPECT_EQ(s.at("never").health, Health::kNever);
  EXPECT_EQ(s.at("never").age_seconds, -1);
  EXPECT_EQ(s.at("failed").health, Health::kFailed);
  EXPECT_EQ(s.at("failed").points, 1u);
  EXPECT_EQ(s.at("damaged").health, Health::kDamaged);
  EXPECT_EQ(s.at("damaged").verify_state, VerifyState::kDamaged);
  EXPECT_EQ(s.at("damaged").bytes_stored, 200u);
  EXPECT_EQ(s.at("hourly").health, Health::kLate);  // 6000 s > 1.5 h
  EXPECT_FALSE(s.at("gone").config.has_value());
  EXPECT_EQ(s.at("gone").age_seconds, 60);
}

TEST(VmStatusTest, ARunningBackupIsTheLastButDoesNotHideAFailure) {
  const auto s = Statuses({Config("a")},
                          {Backup("a", kNow - 7200, BackupState::kComplete),
                           Backup("a", kNow - 3600, BackupState::kInterrupted),
                           Backup("a", kNow - 10, BackupState::kRunning)});
  EXPECT_EQ(s.at("a").last->state, BackupState::kRunning);
  EXPECT_EQ(s.at("a").health, Health::kFailed);
  const auto json = VmStatusJson(s.at("a"));
  EXPECT_EQ(json["last_backup"]["state"], "running");
  EXPECT_EQ(json["points"], 1);
  EXPECT_EQ(json["age_seconds"], 7200);
  EXPECT_EQ(json["schedule"], nullptr);
  EXPECT_EQ(json["schedule_text"], "manual");
}

TEST(VmStatusTest, TallyCountsCompletePointsByWhatVerifyFound) {
  auto damaged =
      Backup("a", kNow - 300, BackupState::kComplete, VerifyState::kDamaged);
  damaged.points[0].verified_at =
      IsoTime(std::chrono::system_clock::from_time_t(kNow - 100));
  damaged.points[0].seconds = 2.5;
  const auto t = TallyPoints(
      {damaged,
       Backup("a", kNow - 200, BackupState::kComplete,
              VerifyState::kDependsOnDamaged),
       Backup("a", kNow - 100, BackupState::kComplete,
              VerifyState::kUnverified),
       Backup("a", kNow - 50, BackupState::kFailed, VerifyState::kDamaged),
       Backup("b", kNow - 10, BackupState::kComplete)});
  EXPECT_EQ(t.backups, 4u) << "the failed backup is not counted";
  EXPECT_EQ(t.damaged, 2u);
  EXPECT_EQ(t.unverified, 1u);
  EXPECT_EQ(t.copy_seconds, 2.5);
  EXPECT_EQ(t.last_verified, kNow - 100);
}

}  // namespace
}  // namespace sendense
