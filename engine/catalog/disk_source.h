#pragma once

#include <string>

namespace sendense {

// One disk of a VM and where to read it.
struct DiskSource {
  std::string name;  // e.g. "sda"
  std::string uri;   // any libnbd URI
};

// "NAME=NBD_URI" (the --disk argument, and the API's form of it); Error
// kInvalidArgument naming the argument when it is not of that form.
DiskSource ParseDiskSource(const std::string& arg);

}  // namespace sendense
