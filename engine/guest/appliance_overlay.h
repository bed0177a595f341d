#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/guest/extent_map.h"
#include "engine/io/file.h"
#include "engine/io/leftovers.h"

namespace sendense::guest {

// The appliance's own QCOW2 overlay over one point's chain: what the
// appliance writes (an ext4 or XFS journal replayed at mount, a superblock
// updated) lands here, never in the backup, and can be listed afterwards,
// so that the daemon knows which disk ranges it saw differ from the
// chain's. Created empty in a private folder of /var/tmp; Forget() unlinks
// it once qemu has it open (nothing is left behind, even after a crash of
// the daemon later on), and it is read through the descriptor kept here.
// A process killed before Forget() leaves the folder noted in
// /var/tmp/sendense-leftovers: the next overlay made removes it.
class ApplianceOverlay {
 public:
  // `backing`: the point's checked QCOW2 file (canonical path), or the
  // URI of its chain served decrypted (DecryptedChain); its format
  // ("qcow2", "raw") is recorded in the overlay so nothing is probed.
  ApplianceOverlay(const std::string& backing,
                   const std::string& backing_format,
                   uint64_t virtual_size);
  ~ApplianceOverlay();
  ApplianceOverlay(const ApplianceOverlay&) = delete;
  ApplianceOverlay& operator=(const ApplianceOverlay&) = delete;

  // Its path until Forget().
  const std::string& path() const { return path_; }
  void Forget();

  // The disk ranges written so far (whole clusters, merged, in order), as
  // the file holds them: call after the appliance flushed (guestfs_sync).
  std::vector<DiskRange> Written() const;

 private:
  std::string dir_, path_;
  File file_;                         // read-only, kept across Forget()
  std::optional<LeftoverNote> note_;  // while its folder exists
};

}  // namespace sendense::guest
