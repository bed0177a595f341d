// Faults injected with the real parts: nbdkit's error and delay filters,
// kill -9 of `sendense backup`, a full destination, concurrent backups.

#include <signal.h>
#include <sys/mount.h>

#include <chrono>
#include <random>
#include <thread>

#include "tests/support/backup_fixture.h"

namespace sendense::test {
namespace {

class BackupFaultsTest : public BackupFixture {
 protected:
  // A raw disk of `mib` MiB of random data, for nbdkit's file plugin.
  std::string RandomRaw(int mib) {
    const std::string path = dir_ / "disk.raw";
    RunOrFail("head -c " + std::to_string(mib) + "M /dev/urandom > " +
              Quote(path));
    return path;
  }
  // nbdkit's file plugin over `file`, with `filter` ("error", "delay" or
  // "") configured by `params`.
  std::string Nbdkit(const std::string& filter,
                     const std::string& params,
                     const std::string& file) {
    return "nbdkit -f -U {sock} " +
           (filter.empty() ? "" : "--filter=" + filter) + " file " +
           Quote(file) + " " + params;
  }
  void ExpectNothingPublished() {
    for (const auto& f : RepoFiles()) {
      ADD_FAILURE() << "left behind: " << f;
    }
  }
  std::string LastError() {
    const auto list = SendenseJson("list --json");
    const auto& backups = list["vms"][0]["backups"];
    EXPECT_EQ(backups.back()["state"], "failed");
    return backups.back()["error"].get<std::string>();
  }
};

TEST_F(BackupFaultsTest, SourceReadErrorsFailTheBackupAndPublishNothing) {
  const auto raw = RandomRaw(32);
  NbdServer server(
      dir_.path(),
      Nbdkit("error", "error-pread=EIO error-pread-rate=20%", raw));
  const auto r = Sendense(BackupArgs(server));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("failed: Input/output error"), std::string::npos)
      << r.output;
  ExpectNothingPublished();
  EXPECT_NE(LastError().find("Input/output error"), std::string::npos);
}

TEST_F(BackupFaultsTest, HangingSourceTimesOut) {
  const auto raw = RandomRaw(4);
  NbdServer server(dir_.path(), Nbdkit("delay", "delay-read=30", raw));
  const auto start = std::chrono::steady_clock::now();
  const auto r = Sendense(BackupArgs(server, "--timeout 1"));
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.output, "sendense: NBD source " + server.uri() +
                          " did not answer within 1.00 s while reading\n");
  EXPECT_LT(secs, 10);
  ExpectNothingPublished();
}

TEST_F(BackupFaultsTest,
       KilledBackupIsInterruptedAtOnceAndReclaimedByTheNextWrite) {
  const auto raw = RandomRaw(32);
  NbdServer server(dir_.path(), Nbdkit("delay", "delay-read=100ms", raw));
  BackgroundProcess backup(std::string(SENDENSE_BINARY) + " -r " +
                           Quote(repo_) + " " + BackupArgs(server));
  const auto has_tmp = [this] {
    for (const auto& f : RepoFiles()) {
      if (f.find(".tmp") != std::string::npos) {
        return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(Eventually(has_tmp));
  // While it runs, it is running.
  EXPECT_EQ(SendenseJson("list --json")["vms"][0]["backups"][0]["state"],
            "running");
  backup.Signal(SIGKILL);
  backup.Wait();
  // Once its process is gone, whoever looks sees it interrupted, though
  // nothing wrote to the catalog yet (list only reads).
  const auto b = SendenseJson("list --json")["vms"][0]["backups"][0];
  EXPECT_EQ(b["state"], "interrupted");
  EXPECT_EQ(b["error"], "the backup process ended before completing");
  EXPECT_TRUE(has_tmp());
  // The next command that writes (here: adding another VM) reclaims it.
  const auto r = Sendense("vm add other --disk sda=nbd://host/x");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(has_tmp());
  const auto sql = RunOrFail("sqlite3 " + Quote(repo_ + "/catalog.db") +
                             " \"SELECT state FROM backups\"");
  EXPECT_EQ(sql, "interrupted\n");
}

TEST_F(BackupFaultsTest, KillNineLeavesTheRepositoryConsistent) {
  const auto raw = RandomRaw(48);
  std::mt19937 rng(42);
  for (int round = 0; round < 4; ++round) {
    NbdServer server(dir_.path(), Nbdkit("delay", "delay-read=200ms", raw));
    BackgroundProcess backup(std::string(SENDENSE_BINARY) + " -r " +
                             Quote(repo_) + " " + BackupArgs(server));
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 1400));
    backup.Signal(SIGKILL);
    backup.Wait();
    // Whatever moment it died at, the catalog opens and only knows
    // complete points.
    const auto list = SendenseJson("list --json");
    for (const auto& vm : list["vms"]) {
      for (const auto& b : vm["backups"]) {
        if (b["state"] == "complete") {
          for (const auto& p : b["points"]) {
            RunOrFail("qemu-img check -q " +
                      Quote(repo_ + "/" + p["file"].get<std::string>()));
          }
        }
      }
    }
  }
  // The next backup reclaims the leftovers and succeeds.
  NbdServer server(dir_.path(), Nbdkit("", "", raw));
  const auto result = SendenseJson(BackupArgs(server, "--json"));
  // At least one kill landed mid-backup, and this run cleaned up after it.
  EXPECT_FALSE(result["reclaimed"]["interrupted_backups"].empty()) << result;
  const auto list = SendenseJson("list --json");
  int complete = 0;
  for (const auto& b : list["vms"][0]["backups"]) {
    EXPECT_NE(b["state"], "running");
    complete += b["state"] == "complete";
  }
  EXPECT_GE(complete, 1);
  for (const auto& f : RepoFiles()) {
    EXPECT_EQ(f.find(".tmp"), std::string::npos) << f;
    RunOrFail("qemu-img check -q " + Quote(repo_ + "/" + f));
  }
  const std::string newest =
      repo_ + "/" +
      list["vms"][0]["backups"].back()["points"][0]["file"].get<std::string>();
  RunOrFail("qemu-img compare -f raw -F qcow2 " + Quote(raw) + " " +
            Quote(newest));
}

TEST_F(BackupFaultsTest, FullDestinationIsAClearErrorAndGivesSpaceBack) {
  const std::string mnt = dir_ / "small";
  RunOrFail("mkdir " + Quote(mnt));
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=16m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root): "
                 << std::strerror(errno);
  }
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{mnt};
  repo_ = mnt + "/repo";
  ASSERT_EQ(Sendense("init").status, 0);
  const auto raw = RandomRaw(32);
  NbdServer server(dir_.path(), Nbdkit("", "", raw));
  const auto r = Sendense(BackupArgs(server));
  EXPECT_EQ(r.status, 1);
  // 32 MiB of data for 16 MiB: refused before it writes (the estimate),
  // or, were the estimate short, stopped by the full filesystem.
  const auto clear = [](const std::string& s) {
    return s.find("needs about") != std::string::npos ||
           s.find("No space left on device") != std::string::npos;
  };
  EXPECT_TRUE(clear(r.output)) << r.output;
  ExpectNothingPublished();
  const auto used = RunOrFail("du -sk " + Quote(mnt) + " | cut -f1");
  EXPECT_LT(std::stoi(used), 2048) << "space was not given back";
  EXPECT_TRUE(clear(LastError())) << LastError();
}

TEST_F(BackupFaultsTest, TwoBackupsOfOneVmCannotInterleave) {
  const auto raw = RandomRaw(16);
  NbdServer slow(dir_.path(), Nbdkit("delay", "delay-read=200ms", raw));
  BackgroundProcess first(std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) +
                          " " + BackupArgs(slow));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  NbdServer fast(dir_.path(), Nbdkit("", "", raw));
  const auto r = Sendense(BackupArgs(fast));
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.output.rfind("sendense: VM 'vm1' is busy: a backup (pid ", 0), 0u)
      << r.output;
  EXPECT_NE(r.output.find(") is running"), std::string::npos) << r.output;
  EXPECT_EQ(first.Wait(), 0);
}

}  // namespace
}  // namespace sendense::test
