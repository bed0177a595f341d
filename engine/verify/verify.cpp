#include "engine/verify/verify.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>

#include "engine/catalog/names.h"
#include "engine/error.h"
#include "engine/io/file.h"
#include "engine/qcow2/check.h"
#include "engine/qcow2/header.h"
#include "engine/repo/point_digest.h"
#include "engine/repo/point_lease.h"
#include "engine/time.h"

namespace sendense::verify {

size_t VerifyReport::damaged() const {
  size_t n = 0;
  for (const auto& p : points) {
    n += Damaged(p.state);
  }
  return n;
}

bool VerifyDue(const std::string& verified_at, int64_t max_age, int64_t now) {
  return max_age == 0 || verified_at.empty() ||
         now - ParseIsoTime(verified_at) >= max_age;
}

namespace {

// The digest files of the point's chain must add up to the whole-disk
// digest recorded at backup time: this finds a digest file that was
// changed or swapped, which the cluster check alone would trust.
void CheckDiskDigest(const Repository& repo,
                     Catalog& catalog,
                     const PointRecord& p,
                     qcow2::CheckResult& r) {
  if (p.disk_digest.empty() || !r.problems.empty()) {
    // Points made before digests have none; damage is already reported.
    return;
  }
  std::optional<qcow2::DiskDigest> now;
  try {
    now = DerivePointDigest(repo, catalog, p.file, p.virtual_size, p.parent_id);
  } catch (const Error& e) {
    r.problems.push_back({0, 0, e.what()});
    return;
  }
  if (!now) {
    r.problems.push_back({0, 0, "a digest file of its chain is missing"});
  } else if (now->RootText() != p.disk_digest) {
    r.problems.push_back(
        {0, 0,
         "the cluster digests of its chain do not add up to the disk "
         "digest recorded at backup time"});
  }
}

// The header fields the catalog knows must say what it recorded: the
// disk's size, and the backing file of an incremental (its parent's file,
// as qcow2) or none for a full. A changed size would make every reader
// (restore, export, the tree) show a disk of another length.
void CheckHeaderAgainstRecord(const std::string& path,
                              const PointRecord& p,
                              const std::string& parent_file,
                              qcow2::CheckResult& r) {
  qcow2::Header h;
  try {
    const File f = File::OpenReadOnly(path);
    h = qcow2::ReadHeader(f, f.Size(), path);
  } catch (const Error&) {
    return;  // CheckPoint has said why the header cannot be read
  }
  const auto problem = [&](const std::string& what) {
    r.problems.push_back({0, 0, "header: " + what});
  };
  if (h.virtual_size != p.virtual_size) {
    problem("the virtual size is " + std::to_string(h.virtual_size) +
            " bytes, the catalog recorded " + std::to_string(p.virtual_size));
  }
  const std::string want_backing =
      parent_file.empty()
          ? ""
          : std::filesystem::path(parent_file).filename().string();
  if (h.backing_name != want_backing) {
    problem(want_backing.empty()
                ? "it names a backing file ('" + h.backing_name +
                      "') though the catalog recorded no point below it"
                : "its backing file is '" + h.backing_name +
                      "', the catalog recorded '" + want_backing + "'");
  }
  if (!want_backing.empty() && h.backing_format != "qcow2") {
    problem("its backing format is '" + h.backing_format + "', not qcow2");
  }
}

// Checks every point of `vm` selected by `only` ("" for all) and records
// every point's state with its chain.
void VerifyVm(const Repository& repo,
              Catalog& catalog,
              const std::string& vm,
              const VerifyRequest& request,
              VerifyReport& report) {
  const std::string& only = request.point;
  const int64_t now_s = ParseIsoTime(NowIso());
  const auto backups = catalog.Backups(vm);
  if (!only.empty() &&
      std::none_of(backups.begin(), backups.end(), [&](const auto& b) {
        return b.name == only && b.state == BackupState::kComplete;
      })) {
    throw Error(ErrorKind::kNotFound,
                "VM '" + vm + "' has no complete point named '" + only + "'");
  }
  const std::string now = NowIso();
  std::map<int64_t, VerifyState> own;       // point id -> own state
  std::map<int64_t, VerifyState> chain;     // point id -> chain state
  std::map<int64_t, nlohmann::json> found;  // checked now: problems
  std::map<int64_t, std::string> files;     // point id -> file
  for (const auto& b : backups) {           // oldest first: parents first
    if (b.state != BackupState::kComplete) {
      continue;
    }
    for (const auto& p : b.points) {
      files[p.id] = p.file;
      const bool check = (only.empty() || b.name == only) &&
                         VerifyDue(p.verified_at, request.max_age, now_s);
      if (check) {
        // As a reader: a prune does not merge into it meanwhile.
        const std::string path = repo.Absolute(p.file);
        std::optional<PointLease> lease;
        try {
          lease.emplace(path, PointLease::Mode::kShared,
                        std::chrono::seconds(30));
        } catch (const Error& e) {
          if (e.kind() == ErrorKind::kBusy) {
            continue;  // being pruned away: nothing to say of it
          }
          // Gone without a prune: the check below says it is damaged.
        }
        auto r = qcow2::CheckPoint(path);
        const auto parent =
            p.parent_id ? files.find(*p.parent_id) : files.end();
        if (!p.parent_id || parent != files.end()) {
          CheckHeaderAgainstRecord(
              path, p, parent != files.end() ? parent->second : "", r);
        }
        CheckDiskDigest(repo, catalog, p, r);
        nlohmann::json problems = nlohmann::json::array();
        for (const auto& pr : r.problems) {
          problems.push_back({{"offset", pr.offset},
                              {"length", pr.length},
                              {"what", pr.what}});
        }
        own[p.id] = !r.problems.empty() ? VerifyState::kDamaged
                    : r.has_digests     ? VerifyState::kOk
                                        : VerifyState::kUnverified;
        found[p.id] = problems;
        report.bytes_read += r.bytes_read;
      } else {
        own[p.id] =
            catalog.OwnVerifyState(p.id).value_or(VerifyState::kUnverified);
      }
      VerifyState state = own[p.id];
      if (state != VerifyState::kDamaged && p.parent_id &&
          Damaged(chain[*p.parent_id])) {
        state = VerifyState::kDependsOnDamaged;
      }
      chain[p.id] = state;
      if (check) {
        catalog.RecordVerification(p.id, own[p.id], state, now,
                                   found[p.id].dump());
      } else if (state != p.verify_state) {
        catalog.RecordVerification(p.id, own[p.id], state, p.verified_at,
                                   p.verify_problems);
      }
      if (check || state == VerifyState::kDependsOnDamaged) {
        report.points.push_back({vm, b.name, p.disk, p.file, state,
                                 check ? found[p.id] : nlohmann::json::array(),
                                 0});
      }
    }
  }
}

}  // namespace

void CheckVerifyRequest(const VerifyRequest& request) {
  if (!request.point.empty() && request.vm.empty()) {
    throw Error(ErrorKind::kInvalidArgument, "a point needs its VM");
  }
}

VerifyReport Verify(const Repository& repo, const VerifyRequest& request) {
  const auto start = std::chrono::steady_clock::now();
  CheckVerifyRequest(request);
  auto catalog = repo.OpenCatalogForWriting();
  std::vector<std::string> vms;
  if (request.vm.empty()) {
    vms = catalog->VmNames();
  } else if (catalog->FindVm(request.vm)) {
    vms.push_back(request.vm);
  } else {
    ThrowNoSuchVm(request.vm, catalog->VmNames());
  }
  VerifyReport report;
  for (const auto& vm : vms) {
    VerifyVm(repo, *catalog, vm, request, report);
  }
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return report;
}

nlohmann::json VerifyReportJson(const VerifyReport& r) {
  nlohmann::json points = nlohmann::json::array();
  for (const auto& p : r.points) {
    points.push_back({{"vm", p.vm},
                      {"backup", p.backup},
                      {"disk", p.disk},
                      {"file", p.file},
                      {"state", StateName(p.state)},
                      {"problems", p.problems}});
  }
  return {{"points", points},
          {"damaged", r.damaged()},
          {"bytes_read", r.bytes_read},
          {"seconds", r.seconds}};
}

}  // namespace sendense::verify
