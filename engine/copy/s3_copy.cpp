#include "engine/copy/s3_copy.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "engine/catalog/guest_index.h"
#include "engine/catalog/names.h"
#include "engine/copy/s3_target.h"
#include "engine/error.h"
#include "engine/io/scratch_dir.h"
#include "engine/log.h"
#include "engine/qcow2/cluster_sums.h"
#include "engine/repo/point_lease.h"
#include "engine/repo/repository_key.h"
#include "engine/restore/restore.h"
#include "engine/time.h"

namespace sendense::copy {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kLeaseWait{2000};
// Files up to this go in one PUT; bigger ones in parts of at least this,
// kParallelParts at once (each streamed from the file: memory stays
// small whatever the object's size).
constexpr uint64_t kPartBytes = 16ull << 20;
constexpr unsigned kParallelParts = 4;
constexpr uint64_t kMaxParts = 10000;  // S3's limit

std::string Suffix(const std::string& s, const std::string& prefix) {
  return s.substr(prefix.size());
}

// One object uploaded: its key, size and ETag as HEAD confirmed them.
struct Uploaded {
  std::string key;
  uint64_t size = 0;
  std::string etag;
};

// Uploads one file to `key`, and checks it arrived whole.
class FileUpload {
 public:
  FileUpload(const s3::ClientOptions& options,
             const s3::Client& client,
             const s3::Lock& lock)
      : options_(options), client_(client), lock_(lock) {}

  Uploaded Run(const std::string& path, const std::string& key) {
    const uint64_t size = fs::file_size(path);
    std::string expected;
    if (size <= kPartBytes) {
      expected = client_.PutFileRange(key, path, 0, size, lock_);
    } else {
      expected = Multipart(path, key, size);
    }
    const auto head = client_.Head(key);
    if (!head || head->size != size ||
        (!expected.empty() && head->etag != expected)) {
      throw Error(ErrorKind::kCorrupt,
                  "S3 at " + options_.location.endpoint + " holds " + key +
                      (head ? " with " + std::to_string(head->size) +
                                  " bytes and ETag " + head->etag
                            : " not at all") +
                      " after its upload of " + std::to_string(size) +
                      " bytes (ETag " + expected + ")");
    }
    return {key, size, head->etag};
  }

 private:
  std::string Multipart(const std::string& path,
                        const std::string& key,
                        uint64_t size) {
    uint64_t part = kPartBytes;
    while ((size + part - 1) / part > kMaxParts) {
      part *= 2;
    }
    const uint64_t parts = (size + part - 1) / part;
    const std::string id = client_.StartUpload(key, lock_);
    std::vector<std::string> etags(parts);
    std::atomic<uint64_t> next{0};
    std::mutex failed_mutex;
    std::string failed;
    std::vector<std::thread> workers;
    s3::ClientOptions each = options_;
    if (each.bytes_per_second > 0) {
      each.bytes_per_second =
          std::max<uint64_t>(1, each.bytes_per_second / kParallelParts);
    }
    for (unsigned w = 0; w < std::min<uint64_t>(kParallelParts, parts); ++w) {
      workers.emplace_back([&] {
        try {
          const s3::Client mine(each);
          for (uint64_t i; (i = next++) < parts;) {
            {
              std::lock_guard lock(failed_mutex);
              if (!failed.empty()) {
                return;
              }
            }
            etags[i] = mine.PutFileRange(key, path, i * part,
                                         std::min(part, size - i * part), {},
                                         id, static_cast<int>(i + 1));
          }
        } catch (const std::exception& e) {
          std::lock_guard lock(failed_mutex);
          if (failed.empty()) {
            failed = e.what();
          }
        }
      });
    }
    for (auto& t : workers) {
      t.join();
    }
    if (!failed.empty()) {
      try {
        client_.AbortUpload(key, id);
      } catch (const std::exception& e) {
        Log(LogLevel::kWarning, "the upload of " + key +
                                    " could not be aborted (the next copy "
                                    "aborts it): " +
                                    e.what());
      }
      throw Error(ErrorKind::kIo, failed);
    }
    client_.CompleteUpload(key, id, etags);
    return s3::MultipartEtag(etags);
  }

  const s3::ClientOptions& options_;
  const s3::Client& client_;
  const s3::Lock lock_;
};

class VmS3Copy {
 public:
  VmS3Copy(const Repository& from,
           const Target& target,
           const std::string& vm,
           JobProgress& progress,
           CopyReport& report)
      : from_(from),
        target_(target),
        vm_(vm),
        progress_(progress),
        report_(report),
        options_(S3Options(target)),
        client_(options_) {}

  void Run() {
    // A prune or forget of this VM would merge and drop the points being
    // copied: it waits, or says that a copy runs.
    Repository::VmLock lock(from_, vm_, "a copy to " + target_.name);
    // What a killed copy left half uploaded: aborted, nothing billing.
    for (const auto& u : client_.Uploads("vms/" + vm_ + "/")) {
      client_.AbortUpload(u.key, u.id);
    }
    const std::string manifests = "vms/" + vm_ + "/backups/";
    std::set<std::string> there;
    for (const auto& o : client_.List(manifests)) {
      if (o.key.size() > 5 &&
          o.key.compare(o.key.size() - 5, 5, ".json") == 0) {
        there.insert(Suffix(o.key, manifests)
                         .substr(0, o.key.size() - manifests.size() - 5));
      }
    }
    const auto source = from_.OpenCatalog();
    const auto backups = source->Backups(vm_);
    std::map<int64_t, std::string> backup_of_point;
    for (const auto& b : backups) {
      for (const auto& p : b.points) {
        backup_of_point[p.id] = b.name;
      }
    }
    const std::string newest = there.empty() ? "" : *there.rbegin();
    for (const auto& b : backups) {
      if (b.state != BackupState::kComplete || b.name <= newest) {
        continue;
      }
      if (progress_.cancel) {
        throw Error(ErrorKind::kCancelled, "the copy was cancelled");
      }
      CopiedBackup done = CopyBackup(*source, b, there, backup_of_point);
      report_.backups.push_back(done);
      if (done.state != "copied") {
        break;  // the points after it wait for the next run
      }
      there.insert(b.name);
      try {
        from_.OpenCatalogForWriting()->RecordCopy(b.id, target_.name, NowIso());
      } catch (const std::exception& e) {
        Log(LogLevel::kWarning, "copy of " + vm_ + "/" + b.name +
                                    " is complete, but the source could not "
                                    "record it: " +
                                    e.what());
      }
    }
  }

 private:
  CopiedBackup CopyBackup(Catalog& source,
                          const BackupRecord& b,
                          const std::set<std::string>& there,
                          const std::map<int64_t, std::string>& backup_of) {
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
    try {
      const s3::Lock lock = S3Lock(target_, b.finished_at);
      nlohmann::json points = nlohmann::json::array();
      for (const auto& p : b.points) {
        const std::optional<std::string> parent =
            p.parent_id ? std::optional(backup_of.at(*p.parent_id))
                        : std::nullopt;
        // Whole when the bucket lacks the parent (pruned there) or the
        // chain there is full_every long: older chains can then expire.
        const bool whole =
            parent && (!there.count(*parent) ||
                       (target_.full_every > 0 &&
                        Depth(*parent, p.disk) + 1 >= target_.full_every));
        const int64_t depth = !parent || whole ? 0 : Depth(*parent, p.disk) + 1;
        FileUpload upload(options_, client_, lock);
        nlohmann::json sums_json = nullptr;
        uint64_t bytes = 0;
        std::optional<ScratchDir> scratch;
        std::optional<PointLease> lease;
        std::string path = from_.Absolute(p.file);
        if (whole) {
          // The point's whole disk, read through its chain (every cluster
          // checked against its digest), as a standalone QCOW2.
          scratch.emplace("whole", "a point copied whole");
          restore::RestoreRequest request;
          request.vm = vm_;
          request.point = b.name;
          request.disk = p.disk;
          request.target = scratch->path() + "/point.qcow2";
          request.sums_path = qcow2::SumsPath(request.target);
          request.encrypt_like_repository = true;
          JobProgress restoring;  // its own counts: ours follow below
          restore::Restore(from_, request, restoring);
          path = request.target;
        } else {
          lease.emplace(path, PointLease::Mode::kShared, kLeaseWait);
        }
        const std::string sums = qcow2::SumsPath(path);
        if (fs::exists(sums)) {
          const auto s = upload.Run(sums, qcow2::SumsPath(p.file));
          sums_json = {{"file", s.key}, {"size", s.size}, {"etag", s.etag}};
          bytes += s.size;
        }
        const auto f = upload.Run(path, p.file);
        bytes += f.size;
        progress_.bytes_total += bytes;
        progress_.bytes_done += bytes;
        report_.bytes += bytes;
        out.points.push_back(
            {p.disk, whole ? "flattened" : "as stored", bytes});
        depth_[{b.name, p.disk}] = depth;
        points.push_back(
            {{"disk", p.disk},
             {"kind", whole ? "full" : KindName(p.kind)},
             {"reason", whole ? "copied whole: the chain in the bucket "
                                "ends before it"
                              : p.reason},
             {"file", p.file},
             {"parent", whole || !parent ? nlohmann::json(nullptr)
                                         : nlohmann::json(*parent)},
             {"depth", depth},
             {"encrypted", whole ? LoadKey(from_, vm_).encrypts : p.encrypted},
             {"virtual_size", p.virtual_size},
             {"bytes_stored", p.bytes_stored},
             {"disk_digest", p.disk_digest},
             {"digest_groups", source.DigestGroups(p.id)},
             {"size", f.size},
             {"etag", f.etag},
             {"sums", sums_json}});
      }
      const nlohmann::json index = UploadGuestIndex(b, lock);
      const nlohmann::json manifest = {{"format", 1},
                                       {"vm", vm_},
                                       {"backup", b.name},
                                       {"started_at", b.started_at},
                                       {"finished_at", b.finished_at},
                                       {"checkpoint", b.checkpoint},
                                       {"consistency", b.consistency},
                                       {"domain_xml", b.domain_xml},
                                       {"lock_mode", lock.mode},
                                       {"retain_until", lock.retain_until},
                                       {"points", points},
                                       {"guest_index", index}};
      client_.Put(ManifestKey(vm_, b.name), manifest.dump(1) + "\n", lock);
    } catch (const std::exception& e) {
      out.state = "failed";
      out.error = e.what();
    }
    out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return out;
  }

  // How many points come before `backup`'s point of `disk` in its chain in
  // the bucket (0 for a full): from its manifest, or counted through its
  // parents' when it has no "depth".
  int64_t Depth(const std::string& backup, const std::string& disk) {
    if (const auto it = depth_.find({backup, disk}); it != depth_.end()) {
      return it->second;
    }
    const auto m = nlohmann::json::parse(client_.Get(ManifestKey(vm_, backup)));
    int64_t depth = 0;
    for (const auto& p : m.at("points")) {
      if (p.value("disk", "") != disk) {
        continue;
      }
      if (p.contains("depth")) {
        depth = p["depth"].get<int64_t>();
      } else if (p.contains("parent") && p["parent"].is_string()) {
        depth = Depth(p["parent"].get<std::string>(), disk) + 1;
      }
    }
    depth_[{backup, disk}] = depth;
    return depth;
  }

  // The backup's guest file index, when it has one, as a small catalog of
  // its own (only that backup's rows): {"file", "backup_id", "size",
  // "etag"}, or null.
  nlohmann::json UploadGuestIndex(const BackupRecord& b, const s3::Lock& lock) {
    const auto run = GuestIndex(from_.CatalogPath()).LastRun(b.id);
    if (!run || !run->error.empty()) {
      return nullptr;
    }
    const ScratchDir scratch("index", "the guest file index");
    const std::string db = scratch.path() + "/index.db";
    int64_t id = 0;
    {
      Catalog c(db, true);
      std::string name;
      id = c.BeginBackup(c.EnsureVm(vm_), b.name, b.started_at, name);
    }
    GuestIndex(db).CopyFrom(from_.CatalogPath(), b.id, id);
    FileUpload upload(options_, client_, lock);
    const auto f = upload.Run(db, IndexKey(vm_, b.name));
    return {
        {"file", f.key}, {"backup_id", id}, {"size", f.size}, {"etag", f.etag}};
  }

  const Repository& from_;
  const Target& target_;
  const std::string vm_;
  JobProgress& progress_;
  CopyReport& report_;
  const s3::ClientOptions options_;
  const s3::Client client_;
  std::map<std::pair<std::string, std::string>, int64_t> depth_;
};

}  // namespace

std::map<std::string, std::set<std::string>> BucketBackups(
    const s3::Client& client) {
  std::map<std::string, std::set<std::string>> out;
  for (const auto& o : client.List("vms/")) {
    // vms/VM/backups/BACKUP.json
    const std::string& k = o.key;
    const size_t vm_end = k.find('/', 4);
    if (vm_end == std::string::npos || k.compare(vm_end, 9, "/backups/") != 0 ||
        k.size() < 5 || k.compare(k.size() - 5, 5, ".json") != 0) {
      continue;
    }
    out[k.substr(4, vm_end - 4)].insert(
        k.substr(vm_end + 9, k.size() - vm_end - 9 - 5));
  }
  return out;
}

std::string ManifestKey(const std::string& vm, const std::string& backup) {
  return "vms/" + vm + "/backups/" + backup + ".json";
}

std::string IndexKey(const std::string& vm, const std::string& backup) {
  return "vms/" + vm + "/backups/" + backup + ".index.db";
}

CopyReport CopyToS3(const Repository& from,
                    const Target& target,
                    const std::string& vm,
                    JobProgress& progress) {
  const auto start = Clock::now();
  CheckS3Target(target);
  CopyReport report;
  report.to = target.name;
  progress.phase = JobPhase::kCopying;
  for (const auto& v : VmsToCopy(from, vm)) {
    VmS3Copy(from, target, v, progress, report).Run();
  }
  progress.phase = JobPhase::kDone;
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

}  // namespace sendense::copy
