// verify --target: what a bucket holds, checked against its manifests
// (docs/offsite.md).

#include "engine/copy/s3_verify.h"

#include <chrono>
#include <filesystem>

#include "engine/copy/s3_copy.h"
#include "engine/copy/s3_target.h"
#include "engine/error.h"
#include "engine/io/scratch_dir.h"
#include "engine/qcow2/check.h"
#include "engine/qcow2/cluster_sums.h"

namespace sendense::copy {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

class TargetVerify {
 public:
  TargetVerify(const s3::Client& client,
               bool read_data,
               TargetVerifyReport& report)
      : client_(client), read_data_(read_data), report_(report) {}

  void Backup(const std::string& vm, const std::string& backup) {
    nlohmann::json m;
    try {
      m = nlohmann::json::parse(client_.Get(ManifestKey(vm, backup)));
    } catch (const nlohmann::json::exception&) {
      Problem(vm, backup, ManifestKey(vm, backup), "is not JSON");
      return;
    }
    ++report_.backups;
    for (const auto& p : m.value("points", nlohmann::json::array())) {
      const std::string file = p.value("file", "");
      const bool point_ok = Object(
          vm, backup, file, p.value("size", uint64_t{0}), p.value("etag", ""));
      bool sums_ok = true;
      if (p.contains("sums") && p["sums"].is_object()) {
        sums_ok = Object(vm, backup, p["sums"].value("file", ""),
                         p["sums"].value("size", uint64_t{0}),
                         p["sums"].value("etag", ""));
      }
      if (read_data_ && point_ok && sums_ok) {
        ReadData(vm, backup, file, p.contains("sums") && p["sums"].is_object());
      }
    }
  }

 private:
  // Whether the object is there with the size and ETag the manifest says.
  bool Object(const std::string& vm,
              const std::string& backup,
              const std::string& key,
              uint64_t size,
              const std::string& etag) {
    ++report_.objects;
    const auto head = client_.Head(key);
    if (!head) {
      Problem(vm, backup, key, "is missing");
      return false;
    }
    if (head->size != size || head->etag != etag) {
      Problem(vm, backup, key,
              "has " + std::to_string(head->size) + " bytes and ETag " +
                  head->etag + ", the manifest says " + std::to_string(size) +
                  " and " + etag);
      return false;
    }
    return true;
  }

  // Downloads the point and its digests, and checks every cluster.
  void ReadData(const std::string& vm,
                const std::string& backup,
                const std::string& key,
                bool has_sums) {
    const ScratchDir scratch("verify", "the downloaded points");
    const std::string path = scratch.path() + "/point.qcow2";
    report_.bytes_read += client_.GetToFile(key, path);
    if (has_sums) {
      report_.bytes_read +=
          client_.GetToFile(qcow2::SumsPath(key), qcow2::SumsPath(path));
    }
    const auto check = qcow2::CheckPoint(path);
    if (!check.problems.empty()) {
      Problem(vm, backup, key,
              "does not read as backed up: " + check.problems.front().what);
    }
  }

  void Problem(const std::string& vm,
               const std::string& backup,
               const std::string& key,
               const std::string& what) {
    report_.problems.push_back({vm, backup, key, what});
  }

  const s3::Client& client_;
  const bool read_data_;
  TargetVerifyReport& report_;
};

}  // namespace

nlohmann::json TargetVerifyReportJson(const TargetVerifyReport& r) {
  nlohmann::json problems = nlohmann::json::array();
  for (const auto& p : r.problems) {
    problems.push_back({{"vm", p.vm},
                        {"backup", p.backup},
                        {"object", p.object},
                        {"what", p.what}});
  }
  return {{"target", r.target},   {"backups", r.backups},
          {"objects", r.objects}, {"bytes_read", r.bytes_read},
          {"problems", problems}, {"seconds", r.seconds}};
}

TargetVerifyReport VerifyTarget(const Target& target,
                                const std::string& vm,
                                bool read_data) {
  const auto start = Clock::now();
  if (target.kind != "s3") {
    throw Error(ErrorKind::kInvalidArgument,
                "verify --target takes an S3 target, and " + target.name +
                    " is a directory: verify it with sendense -r " +
                    target.location + " verify");
  }
  const s3::Client client(S3Options(target));
  TargetVerifyReport report;
  report.target = target.name;
  TargetVerify check(client, read_data, report);
  bool any = false;
  for (const auto& [name, backups] : BucketBackups(client)) {
    if (!vm.empty() && name != vm) {
      continue;
    }
    any = true;
    for (const auto& b : backups) {
      check.Backup(name, b);
    }
  }
  if (!vm.empty() && !any) {
    throw Error(
        ErrorKind::kNotFound,
        "target " + target.name + " holds no backup of VM '" + vm + "'");
  }
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

}  // namespace sendense::copy
