// Backups with qemu-nbd as the source: each stored point equals the source
// at its time, every file is clean for qemu-img check, and incrementals
// store about the changed bytes.

#include <filesystem>

#include "tests/support/backup_fixture.h"

namespace sendense::test {
namespace {

class BackupTest : public BackupFixture {};

TEST_F(BackupTest, FullThenIncrementalsEqualTheSourceAtEachPoint) {
  MakeSource("64M");
  std::vector<std::pair<std::string, std::string>> points;  // file, snapshot
  std::vector<std::string> changes = {
      "",  // the full
      "-c 'write -q -P 0x44 2M 1M' -c 'write -q -z 1M 64k'",
      "-c 'discard -q 14M 1000k' -c 'write -q -P 0x55 40M 512k'",
  };
  for (size_t i = 0; i < changes.size(); ++i) {
    if (!changes[i].empty()) {
      ChangeSource(changes[i]);
    }
    const std::string snap = SnapshotSource("snap" + std::to_string(i));
    NbdServer server(dir_.path(), QemuNbdCommand(source_, "b0"));
    const auto r = SendenseJson(BackupArgs(server, "--bitmap b0 --json"));
    ASSERT_EQ(r["points"].size(), 1u);
    const auto& disk = r["points"][0];
    if (i == 0) {
      EXPECT_EQ(disk["kind"], "full");
      EXPECT_EQ(disk["reason"], "no earlier point of this disk");
      // Holes and zeros are never read: about 12 MiB of data in 64 MiB.
      EXPECT_LT(disk["bytes_read"].get<uint64_t>(), 6u << 20);
    } else {
      EXPECT_EQ(disk["kind"], "incremental");
      // The bitmap only grows since the full (qemu-nbd cannot clear it),
      // but an incremental never reads the whole disk.
      EXPECT_LT(disk["bytes_read"].get<uint64_t>(), 4u << 20);
      EXPECT_LT(disk["bytes_stored"].get<uint64_t>(), 5u << 20);
    }
    points.emplace_back(repo_ + "/" + disk["file"].get<std::string>(), snap);
  }
  for (const auto& [file, snap] : points) {
    RunOrFail("qemu-img check -q -f qcow2 " + Quote(file));
    const auto cmp = RunCommand("qemu-img compare -f raw -F qcow2 " +
                                Quote(snap) + " " + Quote(file));
    EXPECT_EQ(cmp.status, 0) << file << ": " << cmp.output;
  }
  // The chain is standard: qemu follows it from the newest point.
  const std::string info =
      RunOrFail("qemu-img info --backing-chain " + Quote(points.back().first));
  EXPECT_NE(info.find("backing file format: qcow2"), std::string::npos);

  const auto list = SendenseJson("list --json");
  const auto& backups = list["vms"][0]["backups"];
  ASSERT_EQ(backups.size(), 3u);
  EXPECT_EQ(backups[0]["kind"], "full");
  EXPECT_EQ(backups[1]["kind"], "incremental");
  EXPECT_EQ(backups[2]["state"], "complete");
  EXPECT_NE(backups[0]["name"], backups[1]["name"]);
}

TEST_F(BackupTest, SaysWhyABackupIsFull) {
  MakeSource("16M");
  {
    NbdServer server(dir_.path(), QemuNbdCommand(source_, "b0"));
    auto r = SendenseJson(BackupArgs(server, "--json"));
    EXPECT_EQ(r["points"][0]["reason"], "no earlier point of this disk");
    r = SendenseJson(BackupArgs(server, "--json"));
    EXPECT_EQ(r["points"][0]["reason"], "no dirty bitmap given (--bitmap)");
    r = SendenseJson(BackupArgs(server, "--bitmap b0 --full --json"));
    EXPECT_EQ(r["points"][0]["reason"], "full backup asked (--full)");
    r = SendenseJson(BackupArgs(server, "--bitmap b0 --json"));
    EXPECT_EQ(r["points"][0]["kind"], "incremental");
  }
  {
    // The bitmap disappeared (not exported): a full, never a short
    // incremental.
    NbdServer server(dir_.path(), QemuNbdCommand(source_, ""));
    const auto r = SendenseJson(BackupArgs(server, "--bitmap b0 --json"));
    EXPECT_EQ(r["points"][0]["kind"], "full");
    EXPECT_EQ(r["points"][0]["reason"],
              "the source does not export dirty bitmap 'b0'");
  }
  RunOrFail("qemu-img resize -q -f qcow2 " + Quote(source_) + " 32M");
  {
    NbdServer server(dir_.path(), QemuNbdCommand(source_, "b0"));
    const auto r = SendenseJson(BackupArgs(server, "--bitmap b0 --json"));
    EXPECT_EQ(r["points"][0]["kind"], "full");
    EXPECT_EQ(r["points"][0]["reason"],
              "the disk size changed from 16777216 to 33554432 bytes");
  }
}

TEST_F(BackupTest, SeveralDisksMakeOneBackup) {
  MakeSource("16M");
  const std::string second = dir_ / "second.qcow2";
  RunOrFail("qemu-img create -q -f qcow2 " + Quote(second) +
            " 8M && qemu-io -f qcow2 -c 'write -q -P 7 0 1M' " + Quote(second));
  NbdServer a(dir_.path(), QemuNbdCommand(source_, ""));
  NbdServer b(dir_.path(), QemuNbdCommand(second, ""));
  const auto r = SendenseJson("backup --no-index --vm vm1 --json --disk sda=" +
                              Quote(a.uri()) + " --disk sdb=" + Quote(b.uri()));
  ASSERT_EQ(r["points"].size(), 2u);
  const std::string sdb =
      repo_ + "/" + r["points"][1]["file"].get<std::string>();
  RunOrFail("qemu-img compare -f qcow2 -F qcow2 " + Quote(second) + " " +
            Quote(sdb));
}

TEST_F(BackupTest, BadInputIsOneClearSentence) {
  auto r = Sendense("backup --vm vm1 --disk nouri");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.output,
            "sendense: --disk 'nouri' is not of the form NAME=NBD_URI\n");
  r = Sendense("backup --vm ../etc --disk sda=nbd://localhost");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.output,
            "sendense: invalid VM name '../etc': use 1-64 letters, digits, "
            "'.', '_' or '-', not starting with '.' or '-'\n");
  r = RunCommand(std::string(SENDENSE_BINARY) + " -r " +
                 Quote(dir_ / "nothing") + " list");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.output, "sendense: " + dir_ / "nothing" +
                          " is not a Sendense repository (run 'sendense -r " +
                          dir_ / "nothing" + " init' first)\n");
  r = Sendense("init");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.output,
            "sendense: " + repo_ + " is already a Sendense repository\n");
  RunOrFail("mkdir " + Quote(dir_ / "full") + " && touch " +
            Quote(dir_ / "full/x"));
  r = RunCommand(std::string(SENDENSE_BINARY) + " -r " + Quote(dir_ / "full") +
                 " init");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.output, "sendense: " + dir_ / "full" +
                          " is not empty and is not a Sendense repository\n");
  r = Sendense("list --vm ghost");
  EXPECT_EQ(r.output, "sendense: no VM named 'ghost'\n");
}

TEST_F(BackupTest, RepositoryAndTokenArePrivateAndCatalogUsesWal) {
  struct stat st {};
  ASSERT_EQ(::stat(repo_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "VM disks must not be world-readable";
  ASSERT_EQ(::stat((repo_ + "/api-token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(ReadFile(repo_ + "/api-token").size(), 65u);
  const auto mode = RunOrFail(
      "python3 -c \"import sqlite3; print(sqlite3."
      "connect('" +
      repo_ +
      "/catalog.db').execute("
      "'pragma journal_mode').fetchone()[0])\"");
  EXPECT_EQ(mode, "wal\n");
}

}  // namespace
}  // namespace sendense::test
