#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sendense::retention {

// Which points to keep, as restic's `forget --keep-*`: the newest N points
// (last), and the newest point of each of the newest N hours, days, ISO
// weeks, months and years (UTC) that hold one. 0 leaves a rule out.
struct Policy {
  int last = 0, hourly = 0, daily = 0, weekly = 0, monthly = 0, yearly = 0;

  bool empty() const {
    return last == 0 && hourly == 0 && daily == 0 && weekly == 0 &&
           monthly == 0 && yearly == 0;
  }
  bool operator==(const Policy&) const = default;
};

// {"keep_last": N, ...} with only the rules in use; {} for none.
nlohmann::json PolicyJson(const Policy& p);
// The inverse; Error kInvalidArgument for an unknown key or a count that
// is not a whole number from 0 to 100000.
Policy ParsePolicyJson(const nlohmann::json& j);
// "keep-daily 7, keep-weekly 4" ("no retention policy" when empty).
std::string DescribePolicy(const Policy& p);

struct Candidate {
  std::string name;  // the point's name
  int64_t time = 0;  // seconds since the epoch (UTC)
};

struct Decision {
  std::string name;
  int64_t time = 0;
  bool keep = false;
  std::vector<std::string> reasons;  // the rules that keep it
};

// Decides for each candidate (oldest first, as the catalog lists them;
// names unique), newest first. The
// newest candidate is always kept ("newest point"), whatever the policy.
std::vector<Decision> Apply(const Policy& policy,
                            std::vector<Candidate> candidates);

}  // namespace sendense::retention
