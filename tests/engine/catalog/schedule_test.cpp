#include <gtest/gtest.h>

#include "engine/catalog/schedule.h"
#include "engine/error.h"

namespace sendense {
namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kMidnight = 20000 * kDay;  // some day, 00:00 UTC

bool Due(const std::string& schedule, int64_t last, int64_t now) {
  return Schedule::Parse(schedule).Due(last, now);
}

TEST(ScheduleTest, ValidSpecsAndClearRefusals) {
  for (const char* ok :
       {"", "hourly", "daily@02:00", "daily@23:59", "every@15m", "every@6h"}) {
    EXPECT_EQ(Schedule::Parse(ok).text(), ok);
  }
  for (const char* bad : {"daily", "daily@24:00", "daily@2:00", "every@0m",
                          "every@5", "every@5d", "weekly", "hourly "}) {
    try {
      Schedule::Parse(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("daily@HH:MM"), std::string::npos);
    }
  }
}

TEST(ScheduleTest, PeriodsAndWordsForPeople) {
  EXPECT_TRUE(Schedule().manual());
  EXPECT_EQ(Schedule().Describe(), "manual");
  EXPECT_EQ(Schedule().period(), 0);
  EXPECT_EQ(Schedule::Parse("hourly").Describe(), "hourly");
  EXPECT_EQ(Schedule::Parse("hourly").period(), 3600);
  EXPECT_EQ(Schedule::Parse("daily@02:30").Describe(), "daily at 02:30 UTC");
  EXPECT_EQ(Schedule::Parse("daily@02:30").period(), kDay);
  EXPECT_EQ(Schedule::Parse("every@15m").Describe(), "every 15m");
  EXPECT_EQ(Schedule::Parse("every@15m").period(), 900);
  EXPECT_EQ(Schedule::Parse("every@6h").period(), 6 * 3600);
}

TEST(ScheduleTest, IntervalsCountFromTheLastBackup) {
  const int64_t last = kMidnight + 1000;
  EXPECT_FALSE(Due("", 0, last));
  EXPECT_TRUE(Due("hourly", 0, last));  // never backed up
  EXPECT_FALSE(Due("hourly", last, last + 3599));
  EXPECT_TRUE(Due("hourly", last, last + 3600));
  EXPECT_FALSE(Due("every@15m", last, last + 899));
  EXPECT_TRUE(Due("every@15m", last, last + 900));
  EXPECT_FALSE(Due("every@6h", last, last + 6 * 3600 - 1));
  EXPECT_TRUE(Due("every@6h", last, last + 6 * 3600));
}

TEST(ScheduleTest, DailyRunsOnceAfterItsTime) {
  const int64_t at = kMidnight + 2 * 3600;  // 02:00
  // Backed up yesterday at 02:00: not due before 02:00, due from then on.
  EXPECT_FALSE(Due("daily@02:00", at - kDay, at - 1));
  EXPECT_TRUE(Due("daily@02:00", at - kDay, at));
  EXPECT_TRUE(Due("daily@02:00", at - kDay, at + 5 * 3600));
  // Once done today, not again until tomorrow's 02:00.
  EXPECT_FALSE(Due("daily@02:00", at + 10, at + 20 * 3600));
  EXPECT_TRUE(Due("daily@02:00", at + 10, at + kDay));
  // A run missed while the appliance was off is made up once at start.
  EXPECT_TRUE(Due("daily@02:00", at - 3 * kDay, at + 3600));
  // Just after midnight, yesterday's slot counts.
  EXPECT_TRUE(Due("daily@23:30", at - 2 * kDay, kMidnight + 60));
  EXPECT_FALSE(Due("daily@23:30", kMidnight - 10, kMidnight + 60));
}

}  // namespace
}  // namespace sendense
