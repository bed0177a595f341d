#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/catalog/catalog.h"

namespace sendense {

// A repository is one directory:
//   catalog.db            the SQLite catalog (WAL)
//   api-token             the HTTP API's bearer token (mode 0600)
//   locks/<vm>.lock       held (flock) while a backup of <vm> runs
//   vms/<vm>/<disk>/<backup>.qcow2   the points
//   exports/<id>/         points served over NBD (ExportRecords)
// Points are written under a temporary name (".<name>.tmp"), fsynced,
// renamed and their directory fsynced before the catalog records them.
class Repository {
 public:
  // Creates a repository at `path`, which must not exist or be an empty
  // directory. Throws Error kAlreadyExists / kInvalidArgument.
  static void Init(const std::string& path);

  // Opens the repository at `path`; Error kNotFound when it is not one.
  explicit Repository(const std::string& path);

  const std::string& path() const { return path_; }
  std::string Absolute(const std::string& relative) const {
    return path_ + "/" + relative;
  }
  // The catalog's file.
  std::string CatalogPath() const;
  // A new catalog connection (one per thread) for reading; on a full
  // filesystem it may be a read-only snapshot (Catalog::snapshot()).
  // Backups whose process died read as "interrupted".
  std::unique_ptr<Catalog> OpenCatalog() const;

  struct Reclaimed;
  // A catalog connection for a command that writes: Error kNoSpace ("the
  // repository's filesystem is full (N bytes free)") when only a snapshot
  // can be opened. Then reclaims what dead runs of any VM left (see
  // Reclaim) for VMs whose lock is free or is `held_vm`'s (whose lock the
  // caller holds), adding what it reclaimed to `reclaimed` when given; for
  // the other VMs whose lock is free it also finishes the drops a crashed
  // prune left (FinishDrops; one whose point is still open is logged and
  // left for later: prune and forget finish their VM's themselves).
  std::unique_ptr<Catalog> OpenCatalogForWriting(
      Reclaimed* reclaimed = nullptr,
      const std::string& held_vm = "") const;

  // Whether a process holds the lock of `vm` (a backup of it runs). Reads
  // /proc/locks: probing with flock could make a starting backup fail.
  bool VmLockHeld(const std::string& vm) const;
  // Bytes the repository's files take on disk (allocated blocks).
  uint64_t UsedBytes() const;
  // Bytes the files of VM `vm` take on disk (its points, written or being
  // written, and their digests).
  uint64_t UsedBytes(const std::string& vm) const;
  std::string TokenPath() const { return path_ + "/api-token"; }
  // The repository's own random id (its file repository-id, made by init,
  // or now for a repository made before ids): a directory target keeps
  // it, so that another repository, or the bare mount point of an
  // unmounted share, is never taken for it.
  std::string Id() const;
  // The command line of a hint: "sendense -r PATH " + `args` (PATH quoted
  // for a shell when it needs to be).
  std::string Command(const std::string& args) const;

  // The directory of a disk's points relative to the repository, created
  // when missing.
  std::string MakeDiskDir(const std::string& vm, const std::string& disk) const;
  // Where the point of `disk` of `vm` in backup `backup` lives, relative to
  // the repository (vms/VM/DISK/BACKUP.qcow2, its cluster digests beside
  // it as qcow2::SumsPath says), and the name it is written under until it
  // is published (vms/VM/DISK/.BACKUP.qcow2.tmp).
  struct PointFile {
    std::string file;
    std::string temp;
  };
  static PointFile PointFileOf(const std::string& vm,
                               const std::string& disk,
                               const std::string& backup);
  // The VM of a point file (relative, as PointFileOf makes it): "web1"
  // for "vms/web1/vda/B.qcow2"; "" for another path.
  static std::string VmOfPointFile(const std::string& file);
  // PointFileOf, with the disk's directory created when missing.
  PointFile MakePointFile(const std::string& vm,
                          const std::string& disk,
                          const std::string& backup) const;
  // Removes a point file (relative) and its cluster digests, when there:
  // what a failed backup or copy leaves behind.
  void RemovePointFile(const std::string& relative) const;

  // An exclusive lock on one VM (flock on locks/<vm>.lock), released by the
  // destructor or when the process dies.
  class VmLock {
   public:
    // Waits up to half a second for a lock held only for a moment (by a
    // reclaim), then fails with Error kBusy naming what holds it ("VM
    // 'vm1' is busy: a copy to /b (pid 42) is running; try again when it
    // ends"). `work` says
    // what this holder does, for the next one ("a backup", "a prune").
    VmLock(const Repository& repo,
           const std::string& vm,
           const std::string& work = "a backup");
    ~VmLock();
    VmLock(const VmLock&) = delete;
    VmLock& operator=(const VmLock&) = delete;

   private:
    int fd_ = -1;
  };

  // The one `serve` of a repository (flock on locks/.serve.lock, holding its
  // pid): a second would adopt the first's exports and jobs. Error kBusy
  // naming the running one's pid.
  class ServeLock {
   public:
    explicit ServeLock(const Repository& repo);
    ~ServeLock();
    ServeLock(const ServeLock&) = delete;
    ServeLock& operator=(const ServeLock&) = delete;

   private:
    int fd_ = -1;
  };

  struct Reclaimed {
    std::vector<std::string> interrupted_backups;  // "vm/backup"
    std::vector<std::string> removed_files;        // relative to the repo
    uint64_t removed_bytes = 0;
    void Add(const Reclaimed& other);
  };
  // Cleans up after interrupted runs of `vm`: backups left "running" are
  // marked interrupted, temporary files and point files the catalog does
  // not know are removed. Call with the VM's lock held.
  Reclaimed Reclaim(Catalog& catalog, const std::string& vm) const;

 private:
  void FinishDropsQuietly(Catalog& catalog, const std::string& vm) const;

  std::string path_;
};

}  // namespace sendense
