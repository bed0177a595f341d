#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/catalog/targets.h"

namespace sendense::copy {

struct TargetFinding {
  std::string vm, backup, object, what;
};

struct TargetVerifyReport {
  std::string target;
  uint64_t backups = 0;     // manifests read
  uint64_t objects = 0;     // objects looked at
  uint64_t bytes_read = 0;  // downloaded (--read-data)
  std::vector<TargetFinding> problems;
  double seconds = 0;
};

// {"target", "backups", "objects", "bytes_read", "problems": [{"vm",
//  "backup", "object", "what"}], "seconds"}
nlohmann::json TargetVerifyReportJson(const TargetVerifyReport& report);

// Checks what an S3 target holds of `vm` ("" for every VM) against the
// manifests there: every point and digests object present with the size
// and ETag its manifest recorded; with `read_data`, each point also
// downloaded (one at a time, into /var/tmp, removed after) and every
// stored cluster checked against its digests. What is wrong is reported,
// not thrown; Error only when the bucket cannot be asked.
TargetVerifyReport VerifyTarget(const Target& target,
                                const std::string& vm,
                                bool read_data);

}  // namespace sendense::copy
