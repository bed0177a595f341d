#include "cli/quantities.h"

#include <cmath>
#include <cstdlib>

#include "engine/error.h"

namespace sendense::cli {

int64_t ParseAge(const std::string& flag, const std::string& text) {
  const auto bad = [&] {
    return Error(ErrorKind::kInvalidArgument,
                 flag + " '" + text +
                     "' is not a number of days, hours or minutes (7d, "
                     "12h, 30m)");
  };
  if (text.size() < 2 || text.size() > 7 ||
      text.find_first_not_of("0123456789", 0) != text.size() - 1 ||
      text[0] == '0') {
    throw bad();
  }
  const int64_t n = std::stoll(text.substr(0, text.size() - 1));
  switch (text.back()) {
    case 'd':
      return n * 86400;
    case 'h':
      return n * 3600;
    case 'm':
      return n * 60;
    default:
      throw bad();
  }
}

int64_t ParseByteSize(const std::string& flag, const std::string& text) {
  const auto bad = [&] {
    return Error(ErrorKind::kInvalidArgument,
                 flag + " '" + text +
                     "' is not a size (2TiB, 500GiB, 1.5T or a number of "
                     "bytes)");
  };
  char* end = nullptr;
  const double n = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || !std::isfinite(n) || n <= 0 ||
      text.find_first_of("eExXpP+-") <
          static_cast<size_t>(end - text.c_str())) {
    throw bad();
  }
  std::string unit(end);
  if (unit.size() == 3 && unit.substr(1) == "iB") {
    unit.resize(1);
  } else if (unit.size() == 2 && unit[1] == 'B') {
    unit.resize(1);
  }
  static const std::string kUnits = "KMGTP";
  double scale = 1;
  if (!unit.empty() && unit != "B") {
    const auto at = kUnits.find(static_cast<char>(std::toupper(unit[0])));
    if (unit.size() != 1 || at == std::string::npos) {
      throw bad();
    }
    scale = std::pow(1024.0, static_cast<double>(at + 1));
  }
  const double bytes = std::round(n * scale);
  if (bytes < 1 || bytes > 9.0e18) {
    throw bad();
  }
  return static_cast<int64_t>(bytes);
}

}  // namespace sendense::cli
