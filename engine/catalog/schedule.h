#pragma once

// When a VM is backed up by itself (`serve`): parsed once from its text
// ("hourly", "daily@HH:MM" in UTC, "every@Nm", "every@Nh"; "" for manual),
// stored and shown as that text, described in words for people.

#include <cstdint>
#include <string>

namespace sendense {

class Schedule {
 public:
  Schedule() = default;  // manual: never due
  // Error kInvalidArgument naming the forms it takes.
  static Schedule Parse(const std::string& text);

  bool manual() const { return kind_ == Kind::kManual; }
  // The text it was parsed from ("" for manual): what is stored, and the
  // JSON's "schedule".
  const std::string& text() const { return text_; }
  // In words: "manual", "hourly", "daily at 02:00 UTC", "every 30m".
  std::string Describe() const;
  // The time between two backups, in seconds (0 for manual).
  int64_t period() const;
  // Whether a VM last backed up at `last` (epoch seconds, 0 for never) is
  // due at `now`: an interval has passed since `last`; daily, the day's
  // time has passed and no backup began since.
  bool Due(int64_t last, int64_t now) const;

  bool operator==(const Schedule& other) const { return text_ == other.text_; }

 private:
  enum class Kind { kManual, kInterval, kDaily };
  Kind kind_ = Kind::kManual;
  int64_t seconds_ = 0;  // the interval, or daily the time of day
  std::string text_;
};

}  // namespace sendense
