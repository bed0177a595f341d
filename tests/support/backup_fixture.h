#pragma once

// Shared setup of the backup tests: a repository, a source disk image in
// qcow2 (so that qemu keeps a persistent dirty bitmap in it), and the real
// `sendense` binary.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/process.h"
#include "tests/support/test_env.h"

namespace sendense::test {

class BackupFixture : public testing::Test {
 protected:
  void SetUp() override;

  // Runs `sendense -r REPO ARGS`.
  CommandResult Sendense(const std::string& args);
  // Runs it and parses its stdout as JSON, failing the test on error.
  nlohmann::json SendenseJson(const std::string& args);

  // A qcow2 source of `size` with data, explicit zeros and holes, and a
  // persistent dirty bitmap "b0" added after the initial data.
  void MakeSource(const std::string& size = "64M");
  // Writes through qemu-io (recorded in the bitmap).
  void ChangeSource(const std::string& qemu_io_commands);
  // A raw copy of the source as it is now.
  std::string SnapshotSource(const std::string& name);

  std::string BackupArgs(const NbdServer& server,
                         const std::string& extra = "");
  // A backup of the source over qemu-nbd with bitmap b0 (a full, then
  // incrementals), its name returned; a second later, so that the next
  // one has another name.
  std::string Backup();
  // Point files and temporary files under the repository's vms/ (not the
  // published points' digests, "<point>.qcow2.sums").
  std::vector<std::string> RepoFiles();

  TempDir dir_;
  std::string repo_;
  std::string source_;
};

}  // namespace sendense::test
