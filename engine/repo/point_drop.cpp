#include "engine/repo/point_drop.h"
#include "engine/repo/point_digest.h"
#include "engine/repo/repository_key.h"

#include <cstdio>
#include <filesystem>

#include "engine/error.h"
#include "engine/io/capacity.h"
#include "engine/io/file.h"
#include "engine/qcow2/cluster_sums.h"
#include "engine/qcow2/header.h"
#include "engine/qcow2/merge.h"
#include "engine/repo/export_records.h"
#include "engine/repo/immutability.h"
#include "engine/repo/point_lease.h"

namespace sendense {
namespace {

std::string BaseName(const std::string& path) {
  return path.substr(path.find_last_of('/') + 1);
}

std::string DirName(const std::string& path) {
  return path.substr(0, path.find_last_of('/'));
}

uint64_t AllocatedBytes(const std::string& path) {
  return File::OpenReadOnly(path).AllocatedBytes();
}

std::string BackingNameOf(const std::string& path) {
  const File f = File::OpenReadOnly(path);
  return qcow2::ReadHeader(f, f.Size(), path).backing_name;
}

// The cluster digests follow the merge: the child's records (every cluster
// it holds) replace the parent's, idempotently. When either point has none
// (backed up before digests existed), the merged point has none either:
// it reads as unverified rather than half-checked. Clusters a merge
// re-encrypted (`stored`) take their new digests.
void MergeSums(const std::string& parent,
               const std::string& child,
               const std::vector<std::pair<uint64_t, qcow2::Digest>>& stored) {
  std::error_code ec;
  const std::string parent_sums = qcow2::SumsPath(parent);
  const std::string child_sums = qcow2::SumsPath(child);
  if (!std::filesystem::exists(parent_sums, ec) ||
      !std::filesystem::exists(child_sums, ec)) {
    std::filesystem::remove(parent_sums, ec);
    return;
  }
  const auto into = qcow2::SumsFile::OpenReadWrite(parent_sums);
  qcow2::SumsFile::OpenReadOnly(child_sums)
      .ForEach([&](uint64_t cluster, const qcow2::Digest& d) {
        into.Put(cluster, d);
      });
  for (const auto& [cluster, d] : stored) {  // re-encrypted where they went
    into.Put(cluster, d);
  }
  into.Sync();
}

// After the rename of the merged parent over the child: its digests take
// the child's digests' name (or, when it has none and `merged_now`, the
// child's go; after a crash they may be the merged ones already).
void PublishSums(const std::string& parent,
                 const std::string& child,
                 bool merged_now) {
  std::error_code ec;
  const std::string from = qcow2::SumsPath(parent);
  const std::string to = qcow2::SumsPath(child);
  if (std::filesystem::exists(from, ec)) {
    std::filesystem::rename(from, to, ec);
    ThrowIfFailed(ec, "cannot rename " + from + " over " + to);
  } else if (merged_now) {
    std::filesystem::remove(to, ec);
  }
}

bool IsEncrypted(const std::string& path) {
  const File f = File::OpenReadOnly(path);
  return qcow2::ReadHeader(f, f.Size(), path).crypt_method != 0;
}

// Merges `point` into the point backed by it (`child`), or removes it when
// there is none, then updates the catalog. Returns the bytes merged and
// adds what the filesystem got back to `freed`.
uint64_t DropPointFile(const Repository& repo,
                       Catalog& catalog,
                       const std::string& vm,
                       const PointRecord& point,
                       const DropOptions& options,
                       uint64_t& freed) {
  const std::string path = repo.Absolute(point.file);
  std::error_code ec;
  auto child = catalog.ChildOf(point.id);
  uint64_t merged = 0;
  if (!child) {
    if (std::filesystem::exists(path, ec)) {
      PointLease lease(path, PointLease::Mode::kExclusive, options.reader_wait);
      freed += AllocatedBytes(path);
      std::filesystem::remove(qcow2::SumsPath(path), ec);
      std::filesystem::remove(path, ec);
      ThrowIfFailed(ec, "cannot remove " + path);
      SyncDirectory(DirName(path));
    }
    catalog.DropPoint(point, std::nullopt);
    return 0;
  }
  const std::string child_path = repo.Absolute(child->file);
  const std::string backing = BackingNameOf(child_path);
  if (backing == BaseName(point.file)) {
    // Not merged yet (or a merge a crash interrupted: it starts over).
    PointLease lease(path, PointLease::Mode::kExclusive, options.reader_wait);
    const uint64_t before = AllocatedBytes(path) + AllocatedBytes(child_path);
    const auto stats =
        qcow2::MergeIntoBacking(path, child_path, LoadKey(repo, vm).passphrase);
    merged = stats.bytes_copied;
    MergeSums(path, child_path, stats.stored_digests);
    if (std::rename(path.c_str(), child_path.c_str()) != 0) {
      ThrowSystemError("cannot rename " + path + " over " + child_path);
    }
    PublishSums(path, child_path, true);
    SyncDirectory(DirName(path));
    const uint64_t after = AllocatedBytes(child_path);
    freed += before > after ? before - after : 0;
  } else {
    // Merged and renamed before a crash: the child's file is the merged
    // one, backed by what the dropped point was backed by.
    const auto parent =
        point.parent_id ? catalog.FindPoint(*point.parent_id) : std::nullopt;
    const std::string expected = parent ? BaseName(parent->file) : "";
    if (backing != expected) {
      throw Error(ErrorKind::kCorrupt,
                  child_path + " is backed by '" + backing + "', neither " +
                      point.file +
                      " nor its backing file: the chain was "
                      "changed outside Sendense");
    }
    PublishSums(path, child_path, false);
    SyncDirectory(DirName(path));
  }
  if (!point.parent_id) {
    child->kind = PointKind::kFull;
    child->reason = "merged: the points it was based on were pruned";
  }
  child->bytes_stored = AllocatedBytes(child_path);
  // The merged file holds what both backups read from the source. Set
  // from the records as they are, so a merge finished after a crash adds
  // it once.
  child->bytes_read += point.bytes_read;
  // The merged file is the parent's: encrypted as the parent was.
  child->encrypted = IsEncrypted(child_path);
  if (child->encrypted) {
    // The clusters that moved were re-encrypted: their digests as stored
    // are new, and the disk digest (of stored digests) follows them. The
    // merge checked each against its old digest before it moved it.
    if (const auto d = DerivePointDigest(
            repo, catalog, child->file, child->virtual_size, point.parent_id)) {
      child->disk_digest = d->RootText();
      child->digest_groups = d->GroupsText();
    }
  }
  catalog.DropPoint(point, child);
  return merged;
}

}  // namespace

DropResult DropBackup(const Repository& repo,
                      Catalog& catalog,
                      const BackupRecord& b,
                      const DropOptions& options) {
  DropResult r{b.vm, b.name, 0, 0};
  if (b.state != BackupState::kDropping) {
    ExportRecords(repo).RefuseIfExported(b.vm, b.name);
    RefuseIfImmutable(repo, catalog, b);
  }
  catalog.BeginDrop(b.id);
  for (const PointRecord& stale : b.points) {
    // As it is now: an earlier drop may have given it a new parent.
    const auto p = catalog.FindPoint(stale.id);
    if (!p) {
      continue;  // dropped before a crash
    }
    try {
      r.merged_bytes +=
          DropPointFile(repo, catalog, b.vm, *p, options, r.freed_bytes);
    } catch (const Error& e) {
      const std::string why = e.kind() == ErrorKind::kNoSpace
                                  ? "the repository's filesystem is full (" +
                                        std::to_string(FreeBytes(repo.path())) +
                                        " bytes free)"
                                  : std::string(e.what());
      const std::string what = "dropping " + b.vm + "/" + b.name + " (disk " +
                               p->disk + ") stopped: " + why +
                               "; the point stays hidden, nothing is lost, "
                               "and the next prune finishes it";
      throw Error(e.kind(), what, e.sys_errno());
    }
  }
  catalog.RemoveBackup(b.id);
  return r;
}

std::vector<DropResult> FinishDrops(const Repository& repo,
                                    Catalog& catalog,
                                    const std::string& vm,
                                    const DropOptions& options) {
  std::vector<DropResult> done;
  for (const auto& b : catalog.Backups(vm)) {
    if (b.state == BackupState::kDropping) {
      done.push_back(DropBackup(repo, catalog, b, options));
    }
  }
  return done;
}

}  // namespace sendense
