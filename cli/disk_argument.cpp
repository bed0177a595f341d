#include "cli/disk_argument.h"

#include "engine/error.h"

namespace sendense::cli {

DiskSource ParseDiskArgument(const std::string& arg) {
  const auto eq = arg.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size()) {
    throw Error(ErrorKind::kInvalidArgument,
                "--disk '" + arg + "' is not of the form NAME=NBD_URI");
  }
  return {arg.substr(0, eq), arg.substr(eq + 1), "", ""};
}

}  // namespace sendense::cli
