#pragma once

#include <string>

#include "engine/catalog/disk_source.h"

namespace sendense::cli {

// The --disk argument "NAME=NBD_URI"; Error kInvalidArgument naming the
// argument when it is not of that form.
DiskSource ParseDiskArgument(const std::string& arg);

}  // namespace sendense::cli
