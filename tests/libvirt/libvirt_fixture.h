#pragma once

// Domains of a real libvirt for the libvirt tests: TCG domains that run no
// OS (SeaBIOS finds nothing to boot), whose disks change through QEMU's own
// block layer (HMP `qemu-io` on the device), which the dirty bitmaps record
// as they record a guest's writes. The connection is the machine's
// qemu:///system (started here when none runs) or, for the remote host
// tests, a test user's session reached over ssh.

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/mount_fixture.h"

namespace sendense::test {

// libvirtd and virtlogd, started as the test machines need (no systemd);
// "" when up, else why not.
std::string StartSystemLibvirt();

class LibvirtFixture : public MountFixture {
 protected:
  // Skips loudly without root; names this test's domain.
  void SetUp() override;
  // Destroys and undefines the test's domain (and one restored from it).
  void TearDown() override;

  // `virsh` on the fixture's connection, quiet, with `args`.
  std::string Virsh(const std::string& args) const;

  // Defines and starts a domain with `disks`: target -> (image, format).
  void StartDomain(
      const std::map<std::string, std::pair<std::string, std::string>>& disks);
  // An image of `size` with random data in its first `data` bytes.
  std::string MakeImage(const std::string& name,
                        const std::string& format,
                        const std::string& size,
                        const std::string& data = "4M");
  // Writes through QEMU's block layer, as a guest would (`vda` is the
  // first virtio disk).
  void GuestWrite(const std::string& target, const std::string& command);
  // The disk as it is now: the domain paused while the image is copied.
  std::string Oracle(const std::string& image, const std::string& name);
  nlohmann::json Backup(const std::string& extra = "--no-index");
  // `qemu-img compare` of the backup's point of `disk` with `oracle`.
  void ExpectPointEquals(const nlohmann::json& backup,
                         const std::string& disk,
                         const std::string& oracle);
  std::vector<std::string> Checkpoints();
  // Whether libvirt runs a backup job of the domain (or is ending one).
  bool JobRuns();

  std::string uri_ = "qemu:///system";
  std::string domain_;
  static inline int count_ = 0;
};

}  // namespace sendense::test
