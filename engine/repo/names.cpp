#include "engine/repo/names.h"

#include "engine/error.h"

namespace sendense {

void ValidateName(const std::string& what, const std::string& name) {
  bool ok =
      !name.empty() && name.size() <= 64 && name[0] != '.' && name[0] != '-';
  for (char c : name) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                         c == '-';
    ok = ok && allowed;
  }
  if (!ok) {
    throw Error(ErrorKind::kInvalidArgument,
                "invalid " + what + " '" + name +
                    "': use 1-64 letters, digits, '.', '_' or '-', not "
                    "starting with '.' or '-'");
  }
}

}  // namespace sendense
