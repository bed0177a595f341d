#include "engine/catalog/record_json.h"

namespace sendense {

nlohmann::json GuestIndexJson(const std::optional<IndexRun>& run) {
  if (!run) {
    return {{"state", "not-indexed"},
            {"filesystems", 0},
            {"finished_at", ""},
            {"error", ""}};
  }
  const char* state = !run->error.empty()     ? "failed"
                      : run->filesystems == 0 ? "no-filesystems"
                                              : "indexed";
  return {{"state", state},
          {"filesystems", run->filesystems},
          {"finished_at", run->finished_at},
          {"error", run->error}};
}

}  // namespace sendense
