#include <gtest/gtest.h>

#include "engine/catalog/vm_configs.h"
#include "engine/error.h"

namespace sendense {
namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kMidnight = 20000 * kDay;  // some day, 00:00 UTC

TEST(ScheduleTest, ValidSpecsAndClearRefusals) {
  for (const char* ok :
       {"", "hourly", "daily@02:00", "daily@23:59", "every@15m", "every@6h"}) {
    EXPECT_NO_THROW(ValidateSchedule(ok)) << ok;
  }
  for (const char* bad : {"daily", "daily@24:00", "daily@2:00", "every@0m",
                          "every@5", "every@5d", "weekly", "hourly "}) {
    try {
      ValidateSchedule(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("daily@HH:MM"), std::string::npos);
    }
  }
}

TEST(ScheduleTest, IntervalsCountFromTheLastBackup) {
  const int64_t last = kMidnight + 1000;
  EXPECT_FALSE(ScheduleDue("", 0, last));
  EXPECT_TRUE(ScheduleDue("hourly", 0, last));  // never backed up
  EXPECT_FALSE(ScheduleDue("hourly", last, last + 3599));
  EXPECT_TRUE(ScheduleDue("hourly", last, last + 3600));
  EXPECT_FALSE(ScheduleDue("every@15m", last, last + 899));
  EXPECT_TRUE(ScheduleDue("every@15m", last, last + 900));
  EXPECT_FALSE(ScheduleDue("every@6h", last, last + 6 * 3600 - 1));
  EXPECT_TRUE(ScheduleDue("every@6h", last, last + 6 * 3600));
}

TEST(ScheduleTest, DailyRunsOnceAfterItsTime) {
  const int64_t at = kMidnight + 2 * 3600;  // 02:00
  // Backed up yesterday at 02:00: not due before 02:00, due from then on.
  EXPECT_FALSE(ScheduleDue("daily@02:00", at - kDay, at - 1));
  EXPECT_TRUE(ScheduleDue("daily@02:00", at - kDay, at));
  EXPECT_TRUE(ScheduleDue("daily@02:00", at - kDay, at + 5 * 3600));
  // Once done today, not again until tomorrow's 02:00.
  EXPECT_FALSE(ScheduleDue("daily@02:00", at + 10, at + 20 * 3600));
  EXPECT_TRUE(ScheduleDue("daily@02:00", at + 10, at + kDay));
  // A run missed while the appliance was off is made up once at start.
  EXPECT_TRUE(ScheduleDue("daily@02:00", at - 3 * kDay, at + 3600));
  // Just after midnight, yesterday's slot counts.
  EXPECT_TRUE(ScheduleDue("daily@23:30", at - 2 * kDay, kMidnight + 60));
  EXPECT_FALSE(ScheduleDue("daily@23:30", kMidnight - 10, kMidnight + 60));
}

}  // namespace
}  // namespace sendense
