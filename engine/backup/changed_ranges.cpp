#include "engine/backup/changed_ranges.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace sendense {
namespace {

using json = nlohmann::json;

[[noreturn]] void Refuse(const std::string& origin, const std::string& why) {
  throw Error(ErrorKind::kInvalidArgument,
              "changed ranges " + origin + ": " + why);
}

uint64_t Number(const json& range, const char* key, const std::string& origin) {
  const auto it = range.find(key);
  if (it == range.end() || !it->is_number_unsigned()) {
    Refuse(origin, "each range needs \"" + std::string(key) +
                       "\" as a whole number of bytes, not " + range.dump());
  }
  return it->get<uint64_t>();
}

// One disk's list: [{"offset"|"start", "length"}...] or {"changedArea": [...]}.
RangeList ParseList(const json& j, const std::string& origin) {
  const json& list =
      j.is_object() && j.contains("changedArea") ? j["changedArea"] : j;
  if (!list.is_array()) {
    Refuse(origin, "expected a list of {\"offset\", \"length\"}");
  }
  std::vector<ByteRange> ranges;
  for (const auto& r : list) {
    if (!r.is_object()) {
      Refuse(origin, "each range is an object, not " + r.dump());
    }
    const uint64_t offset =
        Number(r, r.contains("start") ? "start" : "offset", origin);
    const uint64_t length = Number(r, "length", origin);
    if (offset + length < offset) {
      Refuse(origin, "the range at " + std::to_string(offset) + " overflows");
    }
    ranges.push_back({offset, length});
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const ByteRange& a, const ByteRange& b) {
              return a.offset < b.offset;
            });
  RangeList merged;
  for (const auto& r : ranges) {
    AppendRange(merged, r.offset, r.length);
  }
  return merged;
}

}  // namespace

ChangedRanges ParseChangedRanges(const std::string& text,
                                 const std::string& origin,
                                 const std::vector<std::string>& disks) {
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    Refuse(origin, "not JSON");
  }
  ChangedRanges out{origin, {}};
  const bool per_disk =
      j.is_object() && !j.contains("changedArea") && !j.empty();
  if (!per_disk) {
    if (disks.size() != 1) {
      Refuse(origin, "the VM has " + std::to_string(disks.size()) +
                         " disks: give an object of disk name to its ranges");
    }
    out.disks[disks[0]] = ParseList(j, origin);
    return out;
  }
  for (const auto& [disk, list] : j.items()) {
    if (std::find(disks.begin(), disks.end(), disk) == disks.end()) {
      Refuse(origin, "the VM has no disk '" + disk + "'");
    }
    out.disks[disk] = ParseList(list, origin);
  }
  return out;
}

ChangedRanges LoadChangedRanges(const std::string& path,
                                const std::vector<std::string>& disks) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(ErrorKind::kNotFound,
                "cannot read the changed ranges file " + path);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return ParseChangedRanges(text.str(), path, disks);
}

void RequireWithinDisk(const ChangedRanges& changed,
                       const std::string& disk,
                       uint64_t size) {
  const auto it = changed.disks.find(disk);
  if (it == changed.disks.end() || it->second.empty() ||
      it->second.back().end() <= size) {
    return;
  }
  const ByteRange& last = it->second.back();
  throw Error(ErrorKind::kInvalidArgument,
              "changed ranges " + changed.origin + ": the range " +
                  std::to_string(last.offset) + "+" +
                  std::to_string(last.length) + " ends past disk " + disk +
                  " (" + std::to_string(size) + " bytes): nothing was written");
}

}  // namespace sendense
