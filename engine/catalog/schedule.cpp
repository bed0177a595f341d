#include "engine/catalog/schedule.h"

#include <regex>

#include "engine/error.h"

namespace sendense {

Schedule Schedule::Parse(const std::string& text) {
  static const std::regex kForms(
      R"(hourly|daily@(([01][0-9]|2[0-3]):([0-5][0-9]))|every@([1-9][0-9]{0,4})([mh]))");
  Schedule s;
  if (text.empty()) {
    return s;
  }
  std::smatch m;
  if (!std::regex_match(text, m, kForms)) {
    throw Error(ErrorKind::kInvalidArgument,
                "schedule '" + text +
                    "' is not one of hourly, daily@HH:MM (UTC), every@Nm, "
                    "every@Nh");
  }
  s.text_ = text;
  if (text == "hourly") {
    s.kind_ = Kind::kInterval;
    s.seconds_ = 3600;
  } else if (m[1].matched) {
    s.kind_ = Kind::kDaily;
    s.seconds_ = std::stoll(m[2]) * 3600 + std::stoll(m[3]) * 60;
  } else {
    s.kind_ = Kind::kInterval;
    s.seconds_ = std::stoll(m[4]) * (m[5] == "h" ? 3600 : 60);
  }
  return s;
}

std::string Schedule::Describe() const {
  switch (kind_) {
    case Kind::kManual:
      return "manual";
    case Kind::kDaily:
      return "daily at " + text_.substr(6) + " UTC";
    case Kind::kInterval:
      return text_ == "hourly" ? text_ : "every " + text_.substr(6);
  }
  return text_;
}

int64_t Schedule::period() const {
  switch (kind_) {
    case Kind::kManual:
      return 0;
    case Kind::kDaily:
      return 86400;
    case Kind::kInterval:
      return seconds_;
  }
  return 0;
}

bool Schedule::Due(int64_t last, int64_t now) const {
  switch (kind_) {
    case Kind::kManual:
      return false;
    case Kind::kInterval:
      return now - last >= seconds_;
    case Kind::kDaily: {
      const int64_t today = now - now % 86400 + seconds_;
      const int64_t slot = now >= today ? today : today - 86400;
      return last < slot;
    }
  }
  return false;
}

}  // namespace sendense
