#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sendense::qcow2 {

// Something wrong in a point: a range of the virtual disk (whole clusters)
// and what is wrong there, or (length 0) a fault of the file's structure.
struct Problem {
  uint64_t offset = 0;
  uint64_t length = 0;
  std::string what;
};

struct CheckResult {
  std::vector<Problem> problems;  // empty: sound
  bool has_digests = false;       // the point has cluster digests
  uint64_t clusters_checked = 0;  // against their digests
  uint64_t bytes_read = 0;
};

// Checks one point's own file, not its backing files: its structure as
// `qemu-img check` does (header, tables inside the file and aligned, no
// host cluster used twice, reference counts equal to the uses), then every
// cluster it holds against its digest (SumsPath), reading the data it
// stores in large runs. Never throws for damage: damage is a Problem.
CheckResult CheckPoint(const std::string& path);

}  // namespace sendense::qcow2
