// copy --from TARGET: a repository rebuilt from what a bucket holds (the
// disaster-recovery half of an off-site copy; docs/offsite.md).

#include <chrono>
#include <filesystem>
#include <map>
#include <set>

#include "engine/catalog/guest_index.h"
#include "engine/catalog/names.h"
#include "engine/catalog/sqlite.h"
#include "engine/copy/s3_copy.h"
#include "engine/copy/s3_target.h"
#include "engine/error.h"
#include "engine/io/file.h"
#include "engine/io/scratch_dir.h"
#include "engine/log.h"
#include "engine/qcow2/check.h"
#include "engine/qcow2/cluster_sums.h"
#include "engine/time.h"

namespace sendense::copy {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

// A key a manifest names must stay inside its VM's folder of the bucket
// and make a path of the repository with the same name.
void RequireSafeFile(const std::string& vm, const std::string& file) {
  const fs::path p(file);
  bool ok = file.rfind("vms/" + vm + "/", 0) == 0 && p.is_relative();
  for (const auto& part : p) {
    ok = ok && part != ".." && part != ".";
  }
  if (!ok) {
    throw Error(ErrorKind::kCorrupt, "a manifest of VM " + vm +
                                         " names the file '" + file +
                                         "', outside its VM's folder");
  }
}

class VmS3Restore {
 public:
  VmS3Restore(const Repository& to,
              const s3::Client& client,
              const std::string& vm,
              JobProgress& progress,
              CopyReport& report)
      : to_(to),
        client_(client),
        vm_(vm),
        progress_(progress),
        report_(report) {}

  void Run(const std::set<std::string>& in_bucket) {
    Repository::VmLock lock(to_, vm_, "a copy from a bucket");
    catalog_ = to_.OpenCatalogForWriting(nullptr, vm_);
    vm_id_ = catalog_->EnsureVm(vm_);
    std::map<std::string, BackupRecord> here;
    for (auto& b : catalog_->Backups(vm_)) {
      if (b.state == BackupState::kComplete) {
        here.emplace(b.name, std::move(b));
      } else if (b.state == BackupState::kFailed ||
                 b.state == BackupState::kInterrupted) {
        catalog_->RemoveBackup(b.id);
      }
    }
    const std::string newest = here.empty() ? "" : here.rbegin()->first;
    for (const auto& name : in_bucket) {
      if (name <= newest) {
        continue;
      }
      if (progress_.cancel) {
        throw Error(ErrorKind::kCancelled, "the copy was cancelled");
      }
      CopiedBackup done = Fetch(name, here);
      report_.backups.push_back(done);
      if (done.state != "copied") {
        break;
      }
      here.emplace(name, *catalog_->FindBackup(vm_, name));
    }
  }

 private:
  CopiedBackup Fetch(const std::string& name,
                     const std::map<std::string, BackupRecord>& here) {
    const auto start = Clock::now();
    CopiedBackup out{vm_, name, "copied", "", {}, 0};
    std::vector<std::string> written;
    int64_t id = 0;
    try {
      const auto m = nlohmann::json::parse(client_.Get(ManifestKey(vm_, name)));
      if (m.value("format", 0) != 1 || m.value("backup", "") != name ||
          m.value("vm", "") != vm_) {
        throw Error(ErrorKind::kCorrupt, "the manifest of " + vm_ + "/" + name +
                                             " is not one this Sendense reads");
      }
      std::string got;
      id = catalog_->BeginBackup(vm_id_, name, m.value("started_at", ""), got);
      if (got != name) {
        throw Error(ErrorKind::kAlreadyExists,
                    "the repository already has a backup named " + name);
      }
      std::vector<PointRecord> records;
      for (const auto& p : m.at("points")) {
        records.push_back(FetchPoint(p, name, here, written));
        out.points.push_back(
            {records.back().disk, "as stored", records.back().bytes_stored});
        report_.bytes += records.back().bytes_stored;
      }
      std::set<std::string> dirs;
      for (const auto& f : written) {
        dirs.insert(fs::path(to_.Absolute(f)).parent_path());
      }
      for (const auto& d : dirs) {
        SyncDirectory(d);
      }
      catalog_->CompleteBackup(id, records, m.value("finished_at", NowIso()));
      if (!m.value("consistency", "").empty()) {
        catalog_->RecordBackupSource(id, "", m.value("consistency", ""),
                                     m.value("domain_xml", ""));
      }
      FetchGuestIndex(m, name, id);
    } catch (const std::exception& e) {
      for (const auto& f : written) {
        to_.RemovePointFile(f);
      }
      if (id != 0) {
        try {
          catalog_->FailBackup(id, e.what(), NowIso());
        } catch (...) {
          // The next run marks it interrupted and removes it.
        }
      }
      out.state = "failed";
      out.error = e.what();
    }
    out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return out;
  }

  PointRecord FetchPoint(const nlohmann::json& p,
                         const std::string& backup,
                         const std::map<std::string, BackupRecord>& here,
                         std::vector<std::string>& written) {
    const auto start = Clock::now();
    PointRecord r;
    r.disk = p.at("disk").get<std::string>();
    ValidateName("disk name", r.disk);
    r.kind = ParsePointKind(p.at("kind").get<std::string>());
    r.reason = p.value("reason", "");
    r.virtual_size = p.value("virtual_size", uint64_t{0});
    r.disk_digest = p.value("disk_digest", "");
    r.digest_groups = p.value("digest_groups", "");
    r.encrypted = p.value("encrypted", false);
    const std::string file = p.at("file").get<std::string>();
    RequireSafeFile(vm_, file);
    if (!p["parent"].is_null()) {
      const std::string parent = p["parent"].get<std::string>();
      const auto it = here.find(parent);
      if (it != here.end()) {
        for (const auto& hp : it->second.points) {
          if (hp.disk == r.disk) {
            r.parent_id = hp.id;
          }
        }
      }
      if (!r.parent_id) {
        throw Error(ErrorKind::kNotFound,
                    "disk " + r.disk + " of " + vm_ +
                        " is an incremental of backup " + parent +
                        ", which the repository does not have");
      }
    }
    const auto files = to_.MakePointFile(vm_, r.disk, backup);
    if (files.file != file) {
      throw Error(ErrorKind::kCorrupt, "a manifest of VM " + vm_ +
                                           " names the file '" + file +
                                           "', not where its point lives");
    }
    r.file = files.file;
    const std::string final_path = to_.Absolute(files.file);
    const std::string temp_path = to_.Absolute(files.temp);
    written.push_back(files.file);
    written.push_back(files.temp);
    client_.GetToFile(file, temp_path);
    const bool has_sums = !p["sums"].is_null();
    if (has_sums) {
      client_.GetToFile(qcow2::SumsPath(file), qcow2::SumsPath(temp_path));
      const auto check = qcow2::CheckPoint(temp_path);
      if (!check.problems.empty()) {
        throw Error(ErrorKind::kCorrupt,
                    file + " from the bucket does not match its digests (" +
                        check.problems.front().what + "): not published");
      }
      File::OpenReadOnly(qcow2::SumsPath(temp_path)).Sync();
    }
    File::OpenReadOnly(temp_path).Sync();
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
    r.bytes_read = File::OpenReadOnly(final_path).Size();
    r.bytes_stored = File::OpenReadOnly(final_path).AllocatedBytes();
    progress_.bytes_done += r.bytes_read;
    r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return r;
  }

  // The backup's guest file index, when the bucket has it: checked
  // against the manifest's size and ETag and by SQLite's integrity check,
  // then its rows copied in. A failure only costs re-indexing.
  void FetchGuestIndex(const nlohmann::json& m,
                       const std::string& name,
                       int64_t id) {
    if (!m.contains("guest_index") || !m["guest_index"].is_object()) {
      return;
    }
    const auto& gi = m["guest_index"];
    try {
      const std::string key = gi.at("file").get<std::string>();
      if (key != IndexKey(vm_, name)) {
        throw Error(ErrorKind::kCorrupt, "the manifest names " + key);
      }
      const auto head = client_.Head(key);
      if (!head || head->size != gi.value("size", uint64_t{0}) ||
          head->etag != gi.value("etag", "")) {
        throw Error(ErrorKind::kCorrupt,
                    key + " is not what the manifest recorded");
      }
      const ScratchDir scratch("index", "the guest file index");
      const std::string db = scratch.path() + "/index.db";
      client_.GetToFile(key, db);
      {
        sqlite::Database check(db, false);
        auto q = check.Prepare("PRAGMA quick_check");
        if (!q.Step() || q.Text(0) != "ok") {
          throw Error(ErrorKind::kCorrupt, key + " fails SQLite's check");
        }
      }
      GuestIndex(to_.CatalogPath())
          .CopyFrom(db, gi.at("backup_id").get<int64_t>(), id);
    } catch (const std::exception& e) {
      Log(LogLevel::kWarning, "the guest file index of " + vm_ + "/" + name +
                                  " was not fetched (" + e.what() +
                                  "); `sendense index` makes it");
    }
  }

  const Repository& to_;
  const s3::Client& client_;
  const std::string vm_;
  JobProgress& progress_;
  CopyReport& report_;
  std::unique_ptr<Catalog> catalog_;
  int64_t vm_id_ = 0;
};

}  // namespace

CopyReport CopyFromS3(const Repository& to,
                      const Target& target,
                      const std::string& vm,
                      JobProgress& progress) {
  const auto start = Clock::now();
  if (target.kind != "s3") {
    throw Error(ErrorKind::kInvalidArgument,
                "copy --from takes an S3 target, and " + target.name +
                    " is a directory: copy from it with sendense -r " +
                    target.location + " copy --to THIS-REPOSITORY");
  }
  CheckS3Target(target);
  const s3::Client client(S3Options(target));
  CopyReport report;
  report.to = to.path();
  const auto all = BucketBackups(client);
  if (!vm.empty() && !all.count(vm)) {
    throw Error(
        ErrorKind::kNotFound,
        "target " + target.name + " holds no backup of VM '" + vm + "'");
  }
  progress.phase = JobPhase::kCopying;
  for (const auto& [name, backups] : all) {
    if (!vm.empty() && name != vm) {
      continue;
    }
    ValidateQualifiedName("VM name", name);
    VmS3Restore(to, client, name, progress, report).Run(backups);
  }
  progress.phase = JobPhase::kDone;
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

}  // namespace sendense::copy
