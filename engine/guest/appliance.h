#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/guest/appliance_overlay.h"
#include "engine/guest/decrypted_chain.h"

struct guestfs_h;
struct guestfs_statns;

namespace sendense::guest {

// One disk of a point, given to the appliance read-only.
struct Drive {
  std::string path;   // the point's QCOW2 file (its chain is checked first)
  std::string disk;   // the disk's name in the backup: "sda", "vdb", "disk0"
  uint64_t size = 0;  // its virtual size
  // For a chain with encrypted (LUKS) layers: the repository's key, and
  // its file, which qemu-nbd reads as the secret.
  std::string luks_passphrase = {};
  std::string key_file = {};
};

// A filesystem the appliance found, with the name the tree shows.
struct FoundFilesystem {
  std::string device;  // in the appliance: "/dev/sda1", "/dev/vg0/root"
  std::string fstype;  // "ext4", "xfs", "btrfs", "vfat", "ntfs", ...
  std::string name;    // "sda1", "vg0-root", "vda2", "disk0p1"
};

// A libguestfs appliance with a point's disks attached, each under an
// overlay of its own (format given, never probed; the backup is never
// written). Guest filesystems are untrusted: they are only ever mounted
// inside the appliance, read-only, their journals replayed into the
// overlay as the guest would after a crash. One call at a time (calls from
// several threads queue).
class Appliance {
 public:
  // Launches the appliance (10-20 s without KVM). Throws Error kIo.
  explicit Appliance(const std::vector<Drive>& drives);
  ~Appliance();
  Appliance(const Appliance&) = delete;
  Appliance& operator=(const Appliance&) = delete;

  // Filesystems worth showing: not swap, LVM members, encrypted or unknown.
  std::vector<FoundFilesystem> Filesystems();
  // Mounts each at "/<name>" (read-only, journal replayed; without when
  // that fails, with a warning). Returns one error message per filesystem
  // ("" when it mounted).
  std::vector<std::string> MountAll(const std::vector<FoundFilesystem>& fss);
  // Per drive, the disk ranges the appliance has written into its overlay
  // (a journal replayed, a superblock updated): there it sees other bytes
  // than the backup holds. Throws Error kIo.
  std::vector<std::vector<DiskRange>> Rewritten();

  // Up to `count` bytes of the guest file `path` at `offset` (fewer at the
  // end of the file). Throws Error kIo.
  std::string Pread(const std::string& path, size_t count, uint64_t offset);

  // Raw access for the indexer, under lock().
  guestfs_h* handle() { return g_.get(); }
  std::mutex& mutex() { return mutex_; }
  // The last libguestfs error, as one sentence.
  std::string LastError();

 private:
  struct Close {
    void operator()(guestfs_h* g) const;  // shuts the appliance down
  };
  // Encrypted chains served decrypted (outlive the appliance's qemu).
  std::vector<std::unique_ptr<DecryptedChain>> decrypted_;
  std::vector<std::unique_ptr<ApplianceOverlay>> overlays_;  // by drive
  // Owned from creation: a launch that throws closes it too.
  std::unique_ptr<guestfs_h, Close> g_;
  std::vector<Drive> drives_;
  std::mutex mutex_;
};

// "sda1" from "/dev/sda1" when drive 0 is disk "sda"; "vda1" when it is
// "vda"; "disk0p1" for "disk0"; "vg0-root" from "/dev/vg0/root".
std::string FilesystemName(const std::string& device,
                           const std::vector<Drive>& drives);

// Read-only mount options to try in order: first replaying the journal
// (into the appliance's overlay), then, when that fails, without.
std::vector<std::string> ReadOnlyMountOptions(const std::string& fstype);

}  // namespace sendense::guest
