#include "engine/catalog/retention_policy.h"

#include <algorithm>
#include <ctime>

#include "engine/error.h"

namespace sendense::retention {
namespace {

struct Rule {
  const char* key;     // in JSON and on the command line (with '-')
  const char* reason;  // why a point was kept
  int Policy::*count;
  int64_t (*bucket)(const std::tm& t, size_t index);
};

int64_t Always(const std::tm&, size_t index) {
  return static_cast<int64_t>(index);
}
int64_t Year(const std::tm& t, size_t) {
  return t.tm_year;
}
int64_t Month(const std::tm& t, size_t) {
  return Year(t, 0) * 12 + t.tm_mon;
}
int64_t Day(const std::tm& t, size_t) {
  return Year(t, 0) * 1000 + t.tm_yday;
}
int64_t Hour(const std::tm& t, size_t) {
  return Day(t, 0) * 24 + t.tm_hour;
}
int64_t IsoWeek(const std::tm& t, size_t) {
  char buf[16];
  std::strftime(buf, sizeof buf, "%G%V", &t);  // ISO 8601 year and week
  return std::stoll(buf);
}

constexpr Rule kRules[] = {
    {"keep_last", "last", &Policy::last, Always},
    {"keep_hourly", "hourly", &Policy::hourly, Hour},
    {"keep_daily", "daily", &Policy::daily, Day},
    {"keep_weekly", "weekly", &Policy::weekly, IsoWeek},
    {"keep_monthly", "monthly", &Policy::monthly, Month},
    {"keep_yearly", "yearly", &Policy::yearly, Year},
};

}  // namespace

nlohmann::json PolicyJson(const Policy& p) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& r : kRules) {
    if (p.*r.count != 0) {
      j[r.key] = p.*r.count;
    }
  }
  return j;
}

Policy ParsePolicyJson(const nlohmann::json& j) {
  if (!j.is_object()) {
    throw Error(ErrorKind::kInvalidArgument,
                "a retention policy is an object of keep_* counts");
  }
  Policy p;
  for (const auto& [key, value] : j.items()) {
    const auto rule = std::find_if(std::begin(kRules), std::end(kRules),
                                   [&](const Rule& r) { return key == r.key; });
    if (rule == std::end(kRules)) {
      throw Error(ErrorKind::kInvalidArgument,
                  "'" + key +
                      "' is not a retention rule (keep_last, keep_hourly, "
                      "keep_daily, keep_weekly, keep_monthly, keep_yearly)");
    }
    if (!value.is_number_integer() || value.get<int64_t>() < 0 ||
        value.get<int64_t>() > 100000) {
      throw Error(
          ErrorKind::kInvalidArgument,
          std::string(rule->key) + " must be a whole number from 0 to 100000");
    }
    p.*rule->count = value.get<int>();
  }
  return p;
}

std::string DescribePolicy(const Policy& p) {
  std::string out;
  for (const auto& r : kRules) {
    if (p.*r.count != 0) {
      std::string key = r.key;
      std::replace(key.begin(), key.end(), '_', '-');
      out += (out.empty() ? "" : ", ") + key + " " + std::to_string(p.*r.count);
    }
  }
  return out.empty() ? "no retention policy" : out;
}

std::vector<Decision> Apply(const Policy& policy,
                            std::vector<Candidate> candidates) {
  // Newest first; of points in the same second, the later given is newer.
  std::reverse(candidates.begin(), candidates.end());
  std::stable_sort(
      candidates.begin(), candidates.end(),
      [](const Candidate& a, const Candidate& b) { return a.time > b.time; });
  struct State {
    int left;
    int64_t last_bucket = INT64_MIN;
  };
  std::vector<State> states;
  for (const auto& r : kRules) {
    states.push_back({policy.*r.count});
  }
  std::vector<Decision> out;
  for (size_t i = 0; i < candidates.size(); ++i) {
    Decision d{candidates[i].name, candidates[i].time, false, {}};
    const std::time_t t = static_cast<std::time_t>(d.time);
    std::tm tm{};
    gmtime_r(&t, &tm);
    for (size_t r = 0; r < std::size(kRules); ++r) {
      if (states[r].left <= 0) {
        continue;
      }
      const int64_t bucket = kRules[r].bucket(tm, i);
      if (bucket != states[r].last_bucket) {
        states[r].last_bucket = bucket;
        --states[r].left;
        d.keep = true;
        d.reasons.push_back(kRules[r].reason);
      }
    }
    if (i == 0 && !d.keep) {
      d.keep = true;
      d.reasons.push_back("newest point");
    }
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace sendense::retention
