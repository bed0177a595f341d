#pragma once

// A repository with backups and the real `sendense mount` serving it.

#include <memory>
#include <string>
#include <vector>

#include "tests/support/backup_fixture.h"
#include "tests/support/process.h"

namespace sendense::test {

// True when the kernel lists a sendense FUSE mount at `path`.
bool IsSendenseMount(const std::string& path);
// Waits up to `seconds` for IsSendenseMount(path) to become `mounted`.
bool WaitForMount(const std::string& path, bool mounted, double seconds = 10);

class MountFixture : public BackupFixture {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Takes a backup of the source over qemu-nbd with bitmap b0 and returns
  // the backup's name.
  std::string TakeBackup(const std::string& extra = "");
  // Starts `sendense mount --foreground EXTRA` and waits until the tree
  // is up.
  void Mount(const std::string& extra = "");
  // Unmounts with fusermount3 and waits for the daemon to exit.
  void Unmount();
  // `qemu-img convert -O raw` of a point file of the repository.
  std::string ConvertPoint(const std::string& point_file);
  // Point files of `backup` (relative to the repo) from `list --json`.
  std::vector<std::string> PointFiles(const std::string& backup);
  // Runs SQL on the catalog with the sqlite3 shell.
  void CatalogSql(const std::string& sql);

  std::string mnt_;
  std::unique_ptr<BackgroundProcess> daemon_;
  std::string daemon_log_;
};

}  // namespace sendense::test
