#include "engine/copy/copy.h"

#include <chrono>
#include <filesystem>
#include <map>
#include <set>

#include "engine/catalog/guest_index.h"
#include "engine/catalog/names.h"
#include "engine/catalog/targets.h"
#include "engine/copy/s3_copy.h"
#include "engine/error.h"
#include "engine/io/capacity.h"
#include "engine/io/file.h"
#include "engine/log.h"
#include "engine/qcow2/check.h"
#include "engine/qcow2/cluster_sums.h"
#include "engine/repo/damage_record.h"
#include "engine/repo/immutability.h"
#include "engine/repo/point_lease.h"
#include "engine/repo/repository_key.h"
#include "engine/repo/tenant_usage.h"
#include "engine/restore/restore.h"
#include "engine/time.h"

namespace sendense::copy {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kLeaseWait{2000};

std::string Now() {
  return IsoTime(std::chrono::system_clock::now());
}

uint64_t Allocated(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec) ? File::OpenReadOnly(path).AllocatedBytes() : 0;
}

void RemoveQuietly(const std::string& path) {
  std::error_code ec;
  fs::remove(path, ec);
}

// Copies `from` to a new `to` in the kernel where it can, and starts its
// writeback: the check on arrival runs while it goes to disk, and the
// caller syncs it (SyncFile) before publishing it.
void CopyFileBytes(const std::string& from, const std::string& to) {
  const File in = File::OpenReadOnly(from);
  RemoveQuietly(to);
  const File out = File::CreateExclusive(to);
  const uint64_t size = in.Size();
  out.CopyFrom(in, 0, 0, size);
  out.StartWriteback(0, size);
}

void SyncFile(const std::string& path) {
  File::OpenReadOnly(path).Sync();
}

// One VM's copy, under the target's lock of that VM.
class VmCopy {
 public:
  VmCopy(const Repository& from,
         const Repository& to,
         const std::string& vm,
         JobProgress& progress,
         CopyReport& report)
      : from_(from), to_(to), vm_(vm), progress_(progress), report_(report) {}

  void Run() {
    // The source's lock too: a prune or forget of this VM would merge and
    // drop the points being copied (it waits, or says that a copy runs).
    Repository::VmLock source_lock(from_, vm_, "a copy to " + to_.path());
    Repository::VmLock lock(to_, vm_, "a copy from " + from_.path());
    // Reclaims what a killed copy (or backup) of this VM left in the target.
    target_ = to_.OpenCatalogForWriting(nullptr, vm_);
    source_ = from_.OpenCatalog();
    vm_id_ = target_->EnsureVm(vm_);
    std::map<std::string, BackupRecord> there;
    for (auto& b : target_->Backups(vm_)) {
      if (b.state == BackupState::kComplete) {
        there.emplace(b.name, std::move(b));
      } else if (b.state == BackupState::kFailed ||
                 b.state == BackupState::kInterrupted) {
        target_->RemoveBackup(b.id);  // tried before: tried again
      }
    }
    std::map<int64_t, std::string> backup_of_point;  // source point -> name
    const auto backups = source_->Backups(vm_);
    for (const auto& b : backups) {
      for (const auto& p : b.points) {
        backup_of_point[p.id] = b.name;
      }
    }
    const auto immutable_days = ImmutableDays(*target_, nullptr);
    // Only what is newer than the target's newest: what it pruned on its
    // own policy stays pruned. (Names are UTC times: they sort by time.)
    const std::string newest = there.empty() ? "" : there.rbegin()->first;
    for (const auto& b : backups) {
      if (b.state != BackupState::kComplete || b.name <= newest) {
        continue;
      }
      if (progress_.cancel) {
        throw Error(ErrorKind::kCancelled, "the copy was cancelled");
      }
      CopiedBackup done = CopyBackup(b, there, backup_of_point);
      const bool copied = done.state == "copied";
      report_.backups.push_back(done);
      if (!copied) {
        break;  // the points after it wait for the next run
      }
      auto published = target_->FindBackup(vm_, b.name);
      there.emplace(b.name, *published);
      if (immutable_days) {
        MakeImmutable(to_, *target_, *published, *immutable_days);
      }
      try {
        from_.OpenCatalogForWriting()->RecordCopy(b.id, report_.to, Now());
      } catch (const std::exception& e) {
        Log(LogLevel::kWarning, "copy of " + vm_ + "/" + b.name +
                                    " is complete, but the source could not "
                                    "record it: " +
                                    e.what());
      }
    }
  }

 private:
  CopiedBackup CopyBackup(
      const BackupRecord& b,
      const std::map<std::string, BackupRecord>& there,
      const std::map<int64_t, std::string>& backup_of_point) {
    const auto start = Clock::now();
    CopiedBackup out{vm_, b.name, "copied", "", {}, 0};
    for (const auto& p : b.points) {
      if (Damaged(p.verify_state)) {
        out.state = "refused";
        out.error = "disk " + p.disk + " of " + vm_ + "/" + b.name + " is " +
                    StateName(p.verify_state) +
                    " (verify found it): copying it would copy the damage; "
                    "restore what is sound from another point";
        return out;
      }
    }
    // Will it fit? At most every point's chain, whole (flattened).
    uint64_t needed = 0;
    for (const auto& p : b.points) {
      needed += Allocated(from_.Absolute(p.file)) +
                Allocated(qcow2::SumsPath(from_.Absolute(p.file)));
    }
    const uint64_t free = FreeBytes(to_.path());
    if (needed > free) {
      out.state = "failed";
      out.error = "the target's filesystem has " + std::to_string(free) +
                  " bytes free and " + vm_ + "/" + b.name + " needs about " +
                  std::to_string(needed) + ": nothing of it was written";
      return out;
    }
    try {
      RequireTenantRoom(to_, vm_, needed);
    } catch (const Error& e) {
      out.state = "failed";
      out.error = e.what();
      return out;
    }
    std::string name;
    const int64_t id = target_->BeginBackup(vm_id_, b.name, b.started_at, name);
    std::vector<std::string> written;
    try {
      if (name != b.name) {
        throw Error(ErrorKind::kAlreadyExists,
                    "the target already has a backup named " + b.name);
      }
      std::vector<PointRecord> records;
      progress_.bytes_total += needed;
      for (const auto& p : b.points) {
        std::string how;
        records.push_back(
            CopyPoint(b, p, there, backup_of_point, written, how));
        out.points.push_back({p.disk, how, records.back().bytes_stored});
        report_.bytes += records.back().bytes_stored;
      }
      std::set<std::string> dirs;
      for (const auto& f : written) {
        dirs.insert(fs::path(to_.Absolute(f)).parent_path());
      }
      for (const auto& d : dirs) {
        SyncDirectory(d);
      }
      target_->CompleteBackup(id, records, Now());
      if (!b.consistency.empty()) {
        // The domain as it was; the checkpoint is the source host's.
        target_->RecordBackupSource(id, "", b.consistency, b.domain_xml);
      }
      CopyGuestIndex(b.id, id);
    } catch (const std::exception& e) {
      for (const auto& f : written) {
        to_.RemovePointFile(f);
      }
      try {
        target_->FailBackup(id, e.what(), Now());
      } catch (...) {
        // The next run marks it interrupted and removes it.
      }
      out.state = "failed";
      out.error = e.what();
    }
    out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return out;
  }

  PointRecord CopyPoint(const BackupRecord& b,
                        const PointRecord& p,
                        const std::map<std::string, BackupRecord>& there,
                        const std::map<int64_t, std::string>& backup_of_point,
                        std::vector<std::string>& written,
                        std::string& how) {
    const auto start = Clock::now();
    const auto files = to_.MakePointFile(vm_, p.disk, b.name);
    PointRecord r;
    r.disk = p.disk;
    r.file = files.file;
    r.virtual_size = p.virtual_size;
    r.disk_digest = p.disk_digest;
    r.digest_groups = source_->DigestGroups(p.id);
    const std::string final_path = to_.Absolute(r.file);
    const std::string source_path = from_.Absolute(p.file);
    // The parent the target has, when it has it.
    std::optional<PointRecord> parent;
    if (p.parent_id) {
      if (auto it = backup_of_point.find(*p.parent_id);
          it != backup_of_point.end()) {
        if (auto t = there.find(it->second); t != there.end()) {
          for (const auto& tp : t->second.points) {
            if (tp.disk == p.disk) {
              parent = tp;
            }
          }
        }
      }
    }
    written.push_back(r.file);
    if (progress_.cancel) {
      throw Error(ErrorKind::kCancelled, "the copy was cancelled");
    }
    how = !p.parent_id || parent ? "as stored" : "flattened";
    if (how == "as stored") {
      // As stored: the file and its digests, checked on arrival.
      const PointLease lease(source_path, PointLease::Mode::kShared,
                             kLeaseWait);
      written.push_back(files.temp);
      const std::string temp_path = to_.Absolute(files.temp);
      const bool has_sums = fs::exists(qcow2::SumsPath(source_path));
      if (has_sums) {
        CopyFileBytes(qcow2::SumsPath(source_path), qcow2::SumsPath(temp_path));
      }
      CopyFileBytes(source_path, temp_path);
      if (has_sums) {
        const auto check = qcow2::CheckPoint(temp_path);
        if (!check.problems.empty()) {
          // Damaged here, or on the way: the source says which.
          const auto source = qcow2::CheckPoint(source_path);
          if (!source.problems.empty()) {
            RecordCheckDamage(from_, source_path, source.problems);
            throw Error(ErrorKind::kCorrupt,
                        p.file + " is damaged (" +
                            source.problems.front().what +
                            "): marked damaged, not copied; `sendense "
                            "verify` tells more");
          }
          throw Error(ErrorKind::kCorrupt,
                      "the copy of " + p.file + " does not match its " +
                          "digests (" + check.problems.front().what +
                          "): not published");
        }
        SyncFile(qcow2::SumsPath(temp_path));
      }
      SyncFile(temp_path);
      std::error_code ec;
      if (has_sums) {
        fs::rename(qcow2::SumsPath(temp_path), qcow2::SumsPath(final_path), ec);
      }
      if (!ec) {
        fs::rename(temp_path, final_path, ec);
      }
      if (ec) {
        throw Error(ErrorKind::kIo,
                    "cannot publish " + r.file + ": " + ec.message());
      }
      r.kind = p.kind;
      r.reason = p.reason;
      r.encrypted = p.encrypted;  // ciphertext stays ciphertext
      r.parent_id = parent ? std::optional(parent->id) : std::nullopt;
    } else {
      // Flattened: the point's whole disk, read through its chain (every
      // cluster checked against its digest) into a standalone QCOW2.
      restore::RestoreRequest request;
      request.vm = vm_;
      request.point = b.name;
      request.disk = p.disk;
      request.target = final_path;
      request.sums_path = qcow2::SumsPath(final_path);
      request.encrypt_like_repository = true;
      JobProgress restoring;  // its own counts: ours follow below
      restore::Restore(from_, request, restoring);
      r.kind = PointKind::kFull;
      r.reason = "copied whole: the target had no earlier point of this disk";
      r.encrypted = LoadKey(from_, vm_).encrypts;
    }
    r.bytes_read = File::OpenReadOnly(final_path).Size();
    r.bytes_stored = Allocated(final_path);
    progress_.bytes_done += r.bytes_stored;
    r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return r;
  }

  // The guest file index moves with the backup (the same disks, so the
  // same files and extent maps); a failure only costs re-indexing there.
  void CopyGuestIndex(int64_t source_id, int64_t target_id) {
    try {
      GuestIndex(to_.CatalogPath())
          .CopyFrom(from_.CatalogPath(), source_id, target_id);
    } catch (const std::exception& e) {
      Log(LogLevel::kWarning,
          "the guest file index of " + vm_ + " was not copied (" + e.what() +
              "); `sendense -r " + to_.path() + " index` makes it");
    }
  }

  const Repository& from_;
  const Repository& to_;
  const std::string vm_;
  JobProgress& progress_;
  CopyReport& report_;
  std::unique_ptr<Catalog> target_, source_;
  int64_t vm_id_ = 0;
};

}  // namespace

std::vector<std::string> VmsToCopy(const Repository& from,
                                   const std::string& vm) {
  const auto source = from.OpenCatalog();
  if (vm.empty()) {
    return source->VmNames();
  }
  if (!source->FindVm(vm)) {
    ThrowNoSuchVm(vm, source->VmNames());
  }
  return {vm};
}

void RequireRepositoryAt(const std::string& dir, const Target* target) {
  std::error_code ec;
  if (fs::exists(dir, ec) && fs::is_directory(dir, ec) &&
      fs::is_empty(dir, ec)) {
    throw Error(ErrorKind::kNotFound,
                dir +
                    " is an empty directory, not a Sendense repository: if a "
                    "share should be mounted there, nothing is (mount it); "
                    "else sendense -r " +
                    dir + " init makes one");
  }
  if (!fs::exists(dir + "/catalog.db", ec)) {
    throw Error(ErrorKind::kNotFound, "no repository at " + dir +
                                          " (sendense -r " + dir +
                                          " init makes one)");
  }
  if (target && !target->repository_id.empty() &&
      Repository(dir).Id() != target->repository_id) {
    throw Error(ErrorKind::kInvalidArgument,
                "the repository at " + dir + " is not the one target " +
                    target->name +
                    " was added with (its id differs): is the right share "
                    "mounted there?");
  }
}

size_t CopyReport::not_copied() const {
  size_t n = 0;
  for (const auto& b : backups) {
    n += b.state != "copied";
  }
  return n;
}

nlohmann::json CopyReportJson(const CopyReport& report) {
  nlohmann::json backups = nlohmann::json::array();
  for (const auto& b : report.backups) {
    nlohmann::json points = nlohmann::json::array();
    for (const auto& p : b.points) {
      points.push_back({{"disk", p.disk}, {"how", p.how}, {"bytes", p.bytes}});
    }
    backups.push_back({{"vm", b.vm},
                       {"backup", b.backup},
                       {"state", b.state},
                       {"error", b.error},
                       {"seconds", b.seconds},
                       {"points", points}});
  }
  return {{"to", report.to},
          {"backups", backups},
          {"bytes", report.bytes},
          {"seconds", report.seconds}};
}

CopyReport Copy(const Repository& from,
                const CopyRequest& asked,
                JobProgress& progress) {
  const auto start = Clock::now();
  CopyRequest request = asked;
  // A target's name: its directory, or its bucket.
  const auto target = Targets(from.CatalogPath()).Find(request.to);
  if (target && target->kind == "s3") {
    return CopyToS3(from, *target, request.vm, progress);
  }
  if (target) {
    request.to = target->location;
  }
  RequireRepositoryAt(request.to, target ? &*target : nullptr);
  std::error_code ec;
  const Repository to(request.to);
  if (fs::equivalent(from.path(), to.path(), ec)) {
    throw Error(ErrorKind::kInvalidArgument,
                "a repository cannot be copied to itself");
  }
  CopyReport report;
  report.to = fs::canonical(to.path(), ec).string();
  progress.phase = JobPhase::kCopying;
  for (const auto& vm : VmsToCopy(from, request.vm)) {
    VmCopy(from, to, vm, progress, report).Run();
  }
  progress.phase = JobPhase::kDone;
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

}  // namespace sendense::copy
