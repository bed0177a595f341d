#include "engine/backup/backup_job.h"

#include <filesystem>
#include <memory>
#include <optional>
#include <set>

#include "engine/backup/copy_plan.h"
#include "engine/catalog/names.h"
#include "engine/catalog/vm_configs.h"
#include "engine/error.h"
#include "engine/io/capacity.h"
#include "engine/io/file.h"
#include "engine/io/nbd_uri.h"
#include "engine/log.h"
#include "engine/qcow2/cluster_sums.h"
#include "engine/qcow2/point_writer.h"
#include "engine/repo/immutability.h"
#include "engine/repo/point_digest.h"
#include "engine/repo/repository_key.h"
#include "engine/repo/tenant_usage.h"
#include "engine/time.h"

namespace sendense {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// One disk's point being written, not yet published.
struct PendingPoint {
  DiskResult result;
  std::string temp;  // relative to the repository
  std::optional<int64_t> parent_id;
  std::optional<qcow2::DiskDigest> digest;
  bool encrypted = false;
};

struct Decision {
  bool incremental = false;
  std::string reason;
};

const std::string& BitmapOf(const BackupRequest& request,
                            const DiskSource& disk) {
  return disk.bitmap.empty() ? request.bitmap : disk.bitmap;
}

Decision Decide(const BackupRequest& request,
                const DiskSource& disk,
                const std::optional<PointRecord>& previous,
                const NbdConnection& source,
                const Repository& repo) {
  if (request.force_full) {
    return {false, "full backup asked (--full)"};
  }
  if (!previous) {
    return {false, "no earlier point of this disk"};
  }
  if (!disk.full_reason.empty()) {
    return {false, disk.full_reason};
  }
  const std::string& bitmap = BitmapOf(request, disk);
  if (request.changed) {
    if (!request.changed->disks.contains(disk.name)) {
      return {false,
              "no changed ranges of this disk in " + request.changed->origin};
    }
  } else if (bitmap.empty()) {
    return {false, "no dirty bitmap given (--bitmap)"};
  } else if (!source.CanMetaContext(DirtyBitmapContext(bitmap))) {
    return {false, "the source does not export dirty bitmap '" + bitmap + "'"};
  }
  if (previous->virtual_size != source.size()) {
    return {false, "the disk size changed from " +
                       std::to_string(previous->virtual_size) + " to " +
                       std::to_string(source.size()) + " bytes"};
  }
  std::error_code ec;
  if (!fs::exists(repo.Absolute(previous->file), ec)) {
    return {false, "the previous point's file is missing"};
  }
  if (request.changed) {
    return {true, "changed ranges " + request.changed->origin +
                      " since the previous point"};
  }
  return {true, "dirty bitmap '" + bitmap + "' since the previous point"};
}

PendingPoint WritePoint(const Repository& repo,
                        Catalog& catalog,
                        int64_t vm_id,
                        const std::string& backup_name,
                        const BackupRequest& request,
                        const DiskSource& disk,
                        JobProgress& progress) {
  const auto start = Clock::now();
  std::vector<std::string> contexts{kBaseAllocation};
  const std::string& bitmap = BitmapOf(request, disk);
  if (!bitmap.empty() && !request.changed) {
    contexts.push_back(DirtyBitmapContext(bitmap));
  }
  auto source = std::make_unique<NbdConnection>(
      NbdEndpoint{disk.uri, disk.tls_certificates}, contexts,
      request.copy.timeout);
  if (request.changed) {
    RequireWithinDisk(*request.changed, disk.name, source->size());
  }
  const auto previous = catalog.LatestPoint(vm_id, disk.name);
  const Decision decision = Decide(request, disk, previous, *source, repo);

  qcow2::PointWriterOptions options;
  options.virtual_size = source->size();
  if (const RepositoryKey key = LoadKey(repo, request.vm); key.encrypts) {
    options.luks_passphrase = RequireKey(key);
  }
  if (decision.incremental) {
    options.backing_name = fs::path(previous->file).filename().string();
  }
  std::vector<NbdConnection::Extent> allocation;
  if (source->CanMetaContext(kBaseAllocation)) {
    allocation = source->BlockStatus(kBaseAllocation, 0, source->size());
  }
  std::optional<std::vector<NbdConnection::Extent>> dirty;
  if (decision.incremental && request.changed) {
    dirty.emplace();
    for (const auto& r : request.changed->disks.at(disk.name)) {
      dirty->push_back({r.offset, r.length, kNbdStateDirty});
    }
  } else if (decision.incremental) {
    dirty = source->BlockStatus(DirtyBitmapContext(bitmap), 0, source->size());
  }
  const CopyPlan plan = BuildCopyPlan(
      source->size(), uint64_t{1} << options.cluster_bits, allocation, dirty);
  progress.bytes_total += TotalLength(plan.data) + TotalLength(plan.zeros);

  // A backup that cannot fit fails before it writes: its data, from the
  // source's allocation (a full) or its dirty bitmap (an incremental).
  const uint64_t needed = TotalLength(plan.data);
  const uint64_t free = FreeBytes(repo.path());
  if (needed + (uint64_t{1} << 20) > free) {
    throw Error(
        ErrorKind::kNoSpace,
        "the repository's filesystem has " + std::to_string(free) +
            " bytes free and disk " + disk.name + " needs about " +
            std::to_string(needed) + " (its data" +
            (decision.incremental ? " changed since the last point" : "") +
            "): nothing of it was written");
  }
  RequireTenantRoom(repo, request.vm, needed);
  const auto files = repo.MakePointFile(request.vm, disk.name, backup_name);
  PendingPoint p;
  p.temp = files.temp;
  p.result.disk = disk.name;
  p.result.kind =
      decision.incremental ? PointKind::kIncremental : PointKind::kFull;
  p.result.reason = decision.reason;
  p.result.file = files.file;
  p.result.virtual_size = source->size();
  p.result.bytes_read = TotalLength(plan.data);
  if (decision.incremental) {
    p.parent_id = previous->id;
  }

  options.sums_path = qcow2::SumsPath(repo.Absolute(p.temp));
  p.encrypted = !options.luks_passphrase.empty();
  qcow2::PointWriter writer(repo.Absolute(p.temp), options);
  CopyDisk(std::move(source), {disk.uri, disk.tls_certificates}, plan, writer,
           request.copy, progress.bytes_done, progress.cancel);
  writer.Finish();
  p.digest = DerivePointDigest(repo, catalog, p.temp, p.result.virtual_size,
                               p.parent_id);
  p.result.bytes_stored = writer.stats().file_bytes;
  p.result.seconds = SecondsSince(start);
  return p;
}

}  // namespace

BackupResult RunBackup(const Repository& repo,
                       const BackupRequest& request,
                       JobProgress& progress) {
  const auto start = Clock::now();
  ValidateQualifiedName("VM name", request.vm);
  if (request.disks.empty() && !request.open_source) {
    throw Error(ErrorKind::kInvalidArgument, "no disk given (--disk NAME=URI)");
  }
  for (const auto& d : request.disks) {
    RequireNbdUri(d.name, d.uri);  // before anything is recorded
    RequireNbdTls(d.uri, d.tls_certificates);
  }
  Repository::VmLock lock(repo, request.vm);
  progress.phase = JobPhase::kCopying;
  BackupResult result;
  result.vm = request.vm;
  auto catalog = repo.OpenCatalogForWriting(&result.reclaimed, request.vm);

  const auto config = VmConfigs(repo.CatalogPath()).Find(request.vm);
  if (!config && !catalog->FindVm(request.vm) && !request.open_source) {
    // A VM neither added nor ever backed up (perhaps a mistyped name): a
    // source that does not answer records nothing, rather than a VM with a
    // failed backup. An added VM's failure is recorded: it needs attention.
    for (const auto& d : request.disks) {
      NbdConnection probe({d.uri, d.tls_certificates}, {},
                          request.copy.timeout);
    }
  }
  const int64_t vm_id = catalog->EnsureVm(request.vm);
  // Ended (its destructor) on every path below.
  std::unique_ptr<BackupSource> source;
  std::vector<DiskSource> disks = request.disks;
  if (request.open_source) {
    source = request.open_source(*catalog, vm_id);
    disks = source->Disks();
  }
  std::set<std::string> names;
  for (const auto& d : disks) {
    ValidateName("disk name", d.name);
    if (!names.insert(d.name).second) {
      throw Error(ErrorKind::kInvalidArgument,
                  "disk '" + d.name + "' is given twice");
    }
  }
  // Immutable points need the filesystem's flag: refused before anything
  // is written rather than published mutable.
  const auto immutable_days =
      ImmutableDays(*catalog, config ? &*config : nullptr);
  if (immutable_days) {
    if (const std::string why = ImmutableSupport(repo.path()); !why.empty()) {
      throw Error(ErrorKind::kUnsupported,
                  why + "; points of VM '" + request.vm +
                      "' are to be immutable, so nothing was backed up");
    }
  }
  const auto now = std::chrono::system_clock::now();
  result.id =
      catalog->BeginBackup(vm_id, TimeName(now), IsoTime(now), result.backup);
  progress.SetBackupName(result.backup);

  std::vector<PendingPoint> pending;
  try {
    for (const DiskSource& disk : disks) {
      pending.push_back(WritePoint(repo, *catalog, vm_id, result.backup,
                                   request, disk, progress));
    }
    // Publish: every point gets its final name and is durable before the
    // catalog knows it.
    std::set<std::string> dirs;
    for (const PendingPoint& p : pending) {
      std::error_code ec;
      // The digests first: a point is never without them.
      fs::rename(qcow2::SumsPath(repo.Absolute(p.temp)),
                 qcow2::SumsPath(repo.Absolute(p.result.file)), ec);
      ThrowIfFailed(ec, "cannot publish " + p.result.file + ".sums");
      fs::rename(repo.Absolute(p.temp), repo.Absolute(p.result.file), ec);
      ThrowIfFailed(ec, "cannot publish " + p.result.file);
      dirs.insert(fs::path(repo.Absolute(p.result.file)).parent_path());
    }
    for (const auto& d : dirs) {
      SyncDirectory(d);
    }
    std::vector<PointRecord> records;
    for (const PendingPoint& p : pending) {
      PointRecord r;
      r.disk = p.result.disk;
      r.kind = p.result.kind;
      r.reason = p.result.reason;
      r.file = p.result.file;
      r.parent_id = p.parent_id;
      r.virtual_size = p.result.virtual_size;
      r.bytes_read = p.result.bytes_read;
      r.bytes_stored = p.result.bytes_stored;
      r.seconds = p.result.seconds;
      r.encrypted = p.encrypted;
      if (p.digest) {
        r.disk_digest = p.digest->RootText();
        r.digest_groups = p.digest->GroupsText();
      }
      records.push_back(r);
      result.disks.push_back(p.result);
    }
    catalog->CompleteBackup(result.id, records,
                            IsoTime(std::chrono::system_clock::now()));
  } catch (const std::exception& e) {
    // Give the space back first: recording the failure may need it.
    for (const DiskSource& d : disks) {
      const auto files =
          Repository::PointFileOf(request.vm, d.name, result.backup);
      repo.RemovePointFile(files.temp);
      repo.RemovePointFile(files.file);
    }
    const auto* error = dynamic_cast<const Error*>(&e);
    // Out of space while writing (not refused before: that says so).
    const bool full = error != nullptr &&
                      error->kind() == ErrorKind::kNoSpace &&
                      FilesystemFull(repo.path());
    try {
      catalog->FailBackup(result.id, e.what(),
                          IsoTime(std::chrono::system_clock::now()));
    } catch (...) {
      // The next command that writes marks it interrupted.
    }
    if (full) {
      ThrowFilesystemFull(repo.path(), " (" + std::string(e.what()) + ")");
    }
    throw;
  }
  if (immutable_days) {
    // Complete already; a flag that cannot be set is said, not hidden.
    const auto published = catalog->FindBackup(request.vm, result.backup);
    MakeImmutable(repo, *catalog, *published, *immutable_days);
  }
  if (source) {
    // The backup is complete whatever happens here; without its record
    // the next backup is a full, which says why.
    try {
      source->Published(*catalog, result.id);
    } catch (const std::exception& e) {
      Log(LogLevel::kWarning,
          "backup " + result.backup + " of VM " + request.vm + ": " + e.what());
    }
  }
  result.seconds = SecondsSince(start);
  return result;
}

}  // namespace sendense
