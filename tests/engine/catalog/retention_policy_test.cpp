// The retention rules as restic's `forget --keep-*` defines them, in UTC:
// bucket edges, month and year boundaries, leap days, ISO weeks across a
// year's end, points minutes apart, and the newest point always kept.

#include "engine/catalog/retention_policy.h"

#include <gtest/gtest.h>

#include "engine/error.h"
#include "engine/time.h"

namespace sendense::retention {
namespace {

// Candidates from ISO times, oldest first (as the catalog lists them).
std::vector<Candidate> At(const std::vector<std::string>& times) {
  std::vector<Candidate> out;
  for (const auto& t : times) {
    const int64_t s = ParseIsoTime(t);
    EXPECT_NE(s, 0) << t;
    out.push_back({t, s});
  }
  return out;
}

// The names kept, newest first.
std::vector<std::string> Kept(const Policy& p,
                              const std::vector<std::string>& times) {
  std::vector<std::string> kept;
  for (const auto& d : Apply(p, At(times))) {
    if (d.keep) {
      kept.push_back(d.name);
    }
  }
  return kept;
}

TEST(RetentionPolicyTest, KeepLastKeepsTheNewestN) {
  Policy p;
  p.last = 2;
  EXPECT_EQ(Kept(p, {"2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z",
                     "2026-01-01T00:02:00Z"}),
            (std::vector<std::string>{"2026-01-01T00:02:00Z",
                                      "2026-01-01T00:01:00Z"}));
}

TEST(RetentionPolicyTest, DailyKeepsTheNewestOfEachDayAtUtcMidnight) {
  Policy p;
  p.daily = 2;
  EXPECT_EQ(Kept(p, {"2026-03-01T23:59:59Z", "2026-03-02T00:00:00Z",
                     "2026-03-02T12:00:00Z", "2026-03-03T00:00:01Z"}),
            (std::vector<std::string>{"2026-03-03T00:00:01Z",
                                      "2026-03-02T12:00:00Z"}));
}

TEST(RetentionPolicyTest, PointsMinutesApartShareAnHour) {
  Policy p;
  p.hourly = 3;
  EXPECT_EQ(Kept(p, {"2026-05-05T10:00:00Z", "2026-05-05T10:59:00Z",
                     "2026-05-05T11:00:00Z", "2026-05-05T11:30:00Z",
                     "2026-05-05T11:31:00Z"}),
            (std::vector<std::string>{"2026-05-05T11:31:00Z",
                                      "2026-05-05T10:59:00Z"}));
}

TEST(RetentionPolicyTest, MonthsAndYearsTurnOnTheirFirstSecond) {
  Policy monthly;
  monthly.monthly = 3;
  EXPECT_EQ(
      Kept(monthly, {"2025-12-31T23:59:59Z", "2026-01-01T00:00:00Z",
                     "2026-01-31T10:00:00Z", "2026-02-01T00:00:00Z"}),
      (std::vector<std::string>{"2026-02-01T00:00:00Z", "2026-01-31T10:00:00Z",
                                "2025-12-31T23:59:59Z"}));
  Policy yearly;
  yearly.yearly = 5;
  EXPECT_EQ(
      Kept(yearly, {"2024-06-01T00:00:00Z", "2025-12-31T23:59:59Z",
                    "2026-01-01T00:00:00Z"}),
      (std::vector<std::string>{"2026-01-01T00:00:00Z", "2025-12-31T23:59:59Z",
                                "2024-06-01T00:00:00Z"}));
}

TEST(RetentionPolicyTest, LeapDayIsADayOfItsOwn) {
  Policy p;
  p.daily = 3;
  EXPECT_EQ(
      Kept(p, {"2028-02-28T08:00:00Z", "2028-02-29T08:00:00Z",
               "2028-02-29T20:00:00Z", "2028-03-01T08:00:00Z"}),
      (std::vector<std::string>{"2028-03-01T08:00:00Z", "2028-02-29T20:00:00Z",
                                "2028-02-28T08:00:00Z"}));
}

TEST(RetentionPolicyTest, IsoWeeksCrossTheYearsEnd) {
  // 2026-12-31 (Thursday) and 2027-01-03 (Sunday) are both in ISO week
  // 2026-W53; 2027-01-04 (Monday) starts 2027-W01; 2026-12-27 (Sunday)
  // ends 2026-W52.
  Policy p;
  p.weekly = 3;
  EXPECT_EQ(
      Kept(p, {"2026-12-27T12:00:00Z", "2026-12-31T12:00:00Z",
               "2027-01-03T12:00:00Z", "2027-01-04T00:00:00Z"}),
      (std::vector<std::string>{"2027-01-04T00:00:00Z", "2027-01-03T12:00:00Z",
                                "2026-12-27T12:00:00Z"}));
}

TEST(RetentionPolicyTest, RulesAddUpAndNameWhyAPointStays) {
  Policy p;
  p.last = 1;
  p.daily = 2;
  const auto d = Apply(p, At({"2026-01-01T10:00:00Z", "2026-01-02T09:00:00Z",
                              "2026-01-02T10:00:00Z"}));
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].reasons, (std::vector<std::string>{"last", "daily"}));
  EXPECT_FALSE(d[1].keep);
  EXPECT_EQ(d[2].reasons, (std::vector<std::string>{"daily"}));
}

TEST(RetentionPolicyTest, TheNewestPointIsAlwaysKept) {
  Policy p;
  p.yearly = 1;
  p.last = 0;
  const auto d = Apply(p, At({"2026-01-01T10:00:00Z"}));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_TRUE(d[0].keep);
  // An empty policy still keeps the newest.
  const auto e =
      Apply(Policy{}, At({"2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z"}));
  EXPECT_TRUE(e[0].keep);
  EXPECT_EQ(e[0].reasons, (std::vector<std::string>{"newest point"}));
  EXPECT_FALSE(e[1].keep);
}

TEST(RetentionPolicyTest, SameSecondPointsAreOrderedAsGiven) {
  Policy p;
  p.last = 1;
  auto c = At({"2026-01-01T10:00:00Z", "2026-01-01T10:00:00Z"});
  c[0].name = "a";
  c[1].name = "a-2";
  const auto d = Apply(p, c);
  EXPECT_EQ(d[0].name, "a-2");
  EXPECT_TRUE(d[0].keep);
  EXPECT_FALSE(d[1].keep);
}

TEST(RetentionPolicyTest, JsonRoundTripsAndRejectsNonsense) {
  Policy p;
  p.daily = 7;
  p.weekly = 4;
  EXPECT_EQ(PolicyJson(p),
            nlohmann::json({{"keep_daily", 7}, {"keep_weekly", 4}}));
  EXPECT_EQ(ParsePolicyJson(PolicyJson(p)), p);
  EXPECT_EQ(DescribePolicy(p), "keep-daily 7, keep-weekly 4");
  EXPECT_EQ(DescribePolicy(Policy{}), "no retention policy");
  for (const char* bad :
       {R"({"keep_dayly": 1})", R"({"keep_daily": -1})",
        R"({"keep_daily": "7"})", R"({"keep_daily": 1.5})", R"([1])"}) {
    EXPECT_THROW(ParsePolicyJson(nlohmann::json::parse(bad)), Error) << bad;
  }
}

}  // namespace
}  // namespace sendense::retention
