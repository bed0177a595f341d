// The tree through a real FUSE mount of the real binary.

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <random>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/support/mount_fixture.h"

namespace sendense::test {
namespace {

std::set<std::string> List(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.insert(e.path().filename().string());
  }
  return names;
}

std::string ReadLinkOf(const std::string& path) {
  std::error_code ec;
  return std::filesystem::read_symlink(path, ec).string();
}

// Data ranges of an open file as SEEK_DATA/SEEK_HOLE report them.
std::vector<std::pair<off_t, off_t>> DataRanges(int fd) {
  std::vector<std::pair<off_t, off_t>> ranges;
  off_t pos = 0;
  while (true) {
    const off_t data = ::lseek(fd, pos, SEEK_DATA);
    if (data < 0) {
      EXPECT_EQ(errno, ENXIO);
      break;
    }
    const off_t hole = ::lseek(fd, data, SEEK_HOLE);
    EXPECT_GT(hole, data);
    ranges.emplace_back(data, hole);
    pos = hole;
  }
  return ranges;
}

// Data ranges of a qcow2 chain according to `qemu-img map`.
std::vector<std::pair<off_t, off_t>> QemuDataRanges(const std::string& image) {
  const auto map = nlohmann::json::parse(
      RunOrFail("qemu-img map -f qcow2 --output=json " + Quote(image)));
  std::vector<std::pair<off_t, off_t>> ranges;
  for (const auto& e : map) {
    if (!e["data"].get<bool>()) {
      continue;
    }
    const off_t start = e["start"], end = start + e["length"].get<off_t>();
    if (!ranges.empty() && ranges.back().second == start) {
      ranges.back().second = end;
    } else {
      ranges.emplace_back(start, end);
    }
  }
  return ranges;
}

TEST_F(MountFixture, ShapeStatAndEveryPointByteForByte) {
  const std::string first = TakeBackup();
  ChangeSource("-c 'write -q -P 0x44 2M 128k' -c 'write -q -z 14M 64k'");
  const std::string second = TakeBackup("--bitmap b0");
  const std::string third = TakeBackup("--full");
  Mount();

  EXPECT_EQ(List(mnt_), std::set<std::string>{"vm1"});
  EXPECT_EQ(List(mnt_ + "/vm1"),
            (std::set<std::string>{first, second, third, "latest"}));
  EXPECT_EQ(ReadLinkOf(mnt_ + "/vm1/latest"), third);
  EXPECT_EQ(List(mnt_ + "/vm1/latest/disks"), std::set<std::string>{"sda.raw"});

  for (const auto& backup : {first, second, third}) {
    SCOPED_TRACE(backup);
    const std::string point = mnt_ + "/vm1/" + backup;
    EXPECT_EQ(List(point),
              (std::set<std::string>{"backup.json", "disks", "files"}));
    const auto bytes = ReadFile(point + "/backup.json");
    const auto json = nlohmann::json::parse(
        std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    EXPECT_EQ(json["name"], backup);
    EXPECT_EQ(json["guest_index"]["state"], "not-indexed");
    EXPECT_EQ(json["vm"], "vm1");

    const std::string raw = point + "/disks/sda.raw";
    struct stat st {};
    ASSERT_EQ(::stat(raw.c_str(), &st), 0);
    EXPECT_EQ(st.st_size, 64 << 20);
    EXPECT_EQ(st.st_mode, S_IFREG | 0444);
    EXPECT_GT(st.st_mtime, 1700000000);
    const auto files = PointFiles(backup);
    ASSERT_EQ(files.size(), 1u);
    RunOrFail("cmp " + Quote(raw) + " " + Quote(ConvertPoint(files[0])));
  }
  // The incremental is a real overlay: its content differs from the full.
  EXPECT_NE(
      RunCommand("cmp -s " + Quote(mnt_ + "/vm1/" + first + "/disks/sda.raw") +
                 " " + Quote(mnt_ + "/vm1/" + second + "/disks/sda.raw"))
          .status,
      0);
  Unmount();
}

TEST_F(MountFixture, HoleMapMatchesQemuAndCopiesStaySparse) {
  TakeBackup();
  ChangeSource("-c 'write -q -P 0x55 40M 1M' -c 'write -q -z 1M 1M'");
  const std::string second = TakeBackup("--bitmap b0");
  Mount();
  const std::string raw = mnt_ + "/vm1/" + second + "/disks/sda.raw";
  const int fd = ::open(raw.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  const auto ours = DataRanges(fd);
  EXPECT_EQ(::lseek(fd, 64 << 20, SEEK_DATA), -1);
  EXPECT_EQ(errno, ENXIO);
  ::close(fd);
  const auto expected = QemuDataRanges(repo_ + "/" + PointFiles(second)[0]);
  EXPECT_EQ(ours, expected);
  EXPECT_GE(ours.size(), 3u);

  // cp --sparse=always and qemu-img convert keep the holes.
  const std::string copy = dir_ / "copy.raw";
  RunOrFail("cp --sparse=always " + Quote(raw) + " " + Quote(copy));
  RunOrFail("cmp " + Quote(raw) + " " + Quote(copy));
  struct stat st {};
  ASSERT_EQ(::stat(copy.c_str(), &st), 0);
  EXPECT_LT(st.st_blocks * 512, 16 << 20);  // of a 64 MiB disk
  Unmount();
}

TEST_F(MountFixture,
       NewBackupAppearsAndRemovedPointVanishesWhileOpenFilesRead) {
  const std::string first = TakeBackup();
  Mount();
  const std::string old_raw = mnt_ + "/vm1/" + first + "/disks/sda.raw";
  const std::string expected = ConvertPoint(PointFiles(first)[0]);
  const int fd = ::open(old_raw.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);

  ChangeSource("-c 'write -q -P 0x66 4M 64k'");
  const std::string second = TakeBackup("--bitmap b0");
  ASSERT_TRUE(
      Eventually([&] { return ReadLinkOf(mnt_ + "/vm1/latest") == second; }, 3))
      << "latest never moved to " << second;
  EXPECT_TRUE(List(mnt_ + "/vm1").count(second));
  RunOrFail("cmp " + Quote(mnt_ + "/vm1/latest/disks/sda.raw") + " " +
            Quote(ConvertPoint(PointFiles(second)[0])));

  // The first backup leaves the catalog (its file stays: the second is
  // its overlay); it vanishes from the tree, the open file keeps reading.
  CatalogSql(
      "PRAGMA foreign_keys=OFF; DELETE FROM points WHERE backup_id = "
      "(SELECT id FROM backups WHERE name = '" +
      first +
      "'); "
      "DELETE FROM backups WHERE name = '" +
      first + "';");
  // The listing changes with the new tree; the kernel's cached names are
  // dropped by the notification that follows it.
  struct stat st {};
  EXPECT_TRUE(Eventually(
      [&] {
        return !List(mnt_ + "/vm1").count(first) &&
               ::stat(old_raw.c_str(), &st) != 0 && errno == ENOENT;
      },
      3))
      << first << " is still there";

  const auto want = ReadFile(expected);
  std::vector<std::byte> got(want.size());
  size_t done = 0;
  while (done < got.size()) {
    const ssize_t n = ::pread(fd, got.data() + done, got.size() - done, done);
    ASSERT_GT(n, 0) << "read failed at " << done << ": " << strerror(errno);
    done += static_cast<size_t>(n);
  }
  EXPECT_TRUE(got == want);
  ::close(fd);
  Unmount();
}

TEST_F(MountFixture, EverythingThatWritesGetsErofs) {
  const std::string backup = TakeBackup();
  Mount();
  const std::string point = mnt_ + "/vm1/" + backup;
  const std::string raw = point + "/disks/sda.raw";
  auto expect_erofs = [](int result, const char* what) {
    EXPECT_EQ(result, -1) << what;
    EXPECT_EQ(errno, EROFS) << what << ": " << strerror(errno);
  };
  expect_erofs(::open(raw.c_str(), O_WRONLY), "open for writing");
  expect_erofs(::open(raw.c_str(), O_RDWR), "open read-write");
  expect_erofs(::open((point + "/new").c_str(), O_CREAT | O_WRONLY, 0644),
               "create");
  expect_erofs(::mkdir((point + "/dir").c_str(), 0755), "mkdir");
  expect_erofs(::rename(raw.c_str(), (point + "/moved").c_str()), "rename");
  expect_erofs(::chmod(raw.c_str(), 0666), "chmod");
  expect_erofs(::truncate(raw.c_str(), 0), "truncate");
  expect_erofs(::unlink(raw.c_str()), "unlink");
  expect_erofs(::rmdir((point + "/disks").c_str()), "rmdir");
  expect_erofs(::symlink("x", (point + "/link").c_str()), "symlink");
  // The mount itself says read-only, nosuid, nodev.
  const auto mounts = RunOrFail("grep ' " + mnt_ + " ' /proc/self/mountinfo");
  EXPECT_NE(mounts.find("ro,nosuid,nodev"), std::string::npos) << mounts;
  Unmount();
}

TEST_F(MountFixture, ConcurrentReadersSeeTheRightBytes) {
  const std::string backup = TakeBackup();
  ChangeSource("-c 'write -q -P 0x77 20M 5M'");
  const std::string second = TakeBackup("--bitmap b0");
  Mount();
  const auto want = ReadFile(ConvertPoint(PointFiles(second)[0]));
  const std::string raw = mnt_ + "/vm1/" + second + "/disks/sda.raw";
  std::atomic<int> mismatches{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 8; ++t) {
    readers.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      const int fd = ::open(raw.c_str(), O_RDONLY);
      if (fd < 0) {
        ++mismatches;
        return;
      }
      std::vector<std::byte> buf(1 << 20);
      for (int i = 0; i < 200; ++i) {
        const size_t len = 1 + rng() % buf.size();
        const off_t off = static_cast<off_t>(rng() % (want.size() - len));
        if (::pread(fd, buf.data(), len, off) != static_cast<ssize_t>(len) ||
            !std::equal(buf.begin(), buf.begin() + len, want.begin() + off)) {
          ++mismatches;
        }
      }
      ::close(fd);
    });
  }
  // Metadata keeps answering while the readers run.
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(List(mnt_ + "/vm1").count(backup));
  }
  for (auto& r : readers) {
    r.join();
  }
  EXPECT_EQ(mismatches.load(), 0);
  Unmount();
}

TEST_F(MountFixture, UnmountWhileAReaderIsActive) {
  const std::string backup = TakeBackup();
  Mount();
  const std::string raw = mnt_ + "/vm1/" + backup + "/disks/sda.raw";
  const auto want = ReadFile(ConvertPoint(PointFiles(backup)[0]));
  const int fd = ::open(raw.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  std::vector<std::byte> got(want.size());
  ASSERT_EQ(::pread(fd, got.data(), 1 << 20, 0), 1 << 20);

  // A plain unmount is refused while the file is open; the tree stays.
  EXPECT_NE(RunCommand("fusermount3 -u " + Quote(mnt_)).status, 0);
  EXPECT_TRUE(IsSendenseMount(mnt_));
  // A lazy unmount detaches it; the open file reads on to the end.
  RunOrFail("fusermount3 -u -z " + Quote(mnt_));
  EXPECT_FALSE(IsSendenseMount(mnt_));
  for (size_t done = 1 << 20; done < got.size();) {
    const ssize_t n = ::pread(fd, got.data() + done, got.size() - done, done);
    ASSERT_GT(n, 0) << strerror(errno);
    done += static_cast<size_t>(n);
  }
  EXPECT_TRUE(got == want);
  ::close(fd);
  // With the last file closed the daemon ends by itself.
  EXPECT_EQ(daemon_->Wait(), 0) << RunCommand("cat " + daemon_log_).output;
}

TEST_F(MountFixture, SigtermUnmountsCleanly) {
  TakeBackup();
  Mount();
  daemon_->Signal(SIGTERM);
  EXPECT_EQ(daemon_->Wait(), 0);
  EXPECT_TRUE(WaitForMount(mnt_, false, 5));
  EXPECT_TRUE(List(mnt_).empty());
}

TEST_F(MountFixture, DaemonizesWhenReadyAndUnmountsWithFusermount) {
  const std::string backup = TakeBackup();
  // Without --foreground the command returns once the tree is mounted.
  const auto r = Sendense("mount " + Quote(mnt_));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(IsSendenseMount(mnt_));
  EXPECT_TRUE(List(mnt_ + "/vm1").count(backup));
  RunOrFail("fusermount3 -u " + Quote(mnt_));
  EXPECT_FALSE(IsSendenseMount(mnt_));
}

// The documented sequence with a daemonized mount: other commands open and
// close the catalog meanwhile, and the tree keeps seeing new backups (a
// catalog connection that crossed the fork lost its locks with the parent,
// and the next process to close the catalog deleted the WAL under it).
TEST_F(MountFixture, DaemonizedMountSeesBackupsTakenAfterOtherCommands) {
  TakeBackup();
  ASSERT_EQ(Sendense("mount " + Quote(mnt_)).status, 0);
  ASSERT_EQ(Sendense("list").status, 0);
  ChangeSource("-c 'write -q -P 0x71 2M 64k'");
  const std::string second = TakeBackup("--bitmap b0");
  ASSERT_EQ(Sendense("list --json").status, 0);
  ChangeSource("-c 'write -q -P 0x72 3M 64k'");
  const std::string third = TakeBackup("--bitmap b0");
  EXPECT_TRUE(
      Eventually([&] { return ReadLinkOf(mnt_ + "/vm1/latest") == third; }, 5))
      << "latest is " << ReadLinkOf(mnt_ + "/vm1/latest");
  EXPECT_TRUE(List(mnt_ + "/vm1").count(second));
  RunOrFail("cmp " + Quote(mnt_ + "/vm1/" + third + "/disks/sda.raw") + " " +
            Quote(ConvertPoint(PointFiles(third)[0])));
  RunOrFail("fusermount3 -u " + Quote(mnt_));
}

TEST_F(MountFixture, SecondMountAtTheSamePathIsRefused) {
  TakeBackup();
  Mount();
  const auto r = Sendense("mount " + Quote(mnt_));
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.output, "sendense: a Sendense tree is already mounted at " +
                          mnt_ + " (unmount it first: fusermount3 -u " + mnt_ +
                          ")\n");
  const auto mounts = RunOrFail("grep -c ' " + mnt_ +
                                " .* fuse.sendense ' /proc/self/mountinfo");
  EXPECT_EQ(mounts, "1\n");
  Unmount();
}

TEST_F(MountFixture, MountingOverFilesWarns) {
  TakeBackup();
  RunOrFail("touch " + Quote(mnt_ + "/hidden-file"));
  const auto r = Sendense("mount " + Quote(mnt_));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("is not empty: what it holds stays hidden"),
            std::string::npos)
      << r.output;
  RunOrFail("fusermount3 -u " + Quote(mnt_));
  EXPECT_TRUE(std::filesystem::exists(mnt_ + "/hidden-file"));
}

TEST_F(MountFixture, KilledDaemonGivesEnotconnAndANewMountWorks) {
  const std::string backup = TakeBackup();
  Mount();
  daemon_->Signal(SIGKILL);
  daemon_->Wait();
  struct stat st {};
  EXPECT_NE(::stat((mnt_ + "/vm1").c_str(), &st), 0);
  EXPECT_EQ(errno, ENOTCONN);
  // The next mount detaches the dead one and serves again.
  Mount();
  EXPECT_TRUE(List(mnt_ + "/vm1").count(backup));
  Unmount();
}

TEST_F(MountFixture, BrokenPointFileGivesEioOnThatFileOnly) {
  const std::string first = TakeBackup();
  const std::string second = TakeBackup("--full");
  // Overwrite the first point's L1 table region: its reads fail.
  const std::string file = repo_ + "/" + PointFiles(first)[0];
  RunOrFail("truncate -s 4096 " + Quote(file));
  Mount();
  const std::string bad = mnt_ + "/vm1/" + first + "/disks/sda.raw";
  const int fd = ::open(bad.c_str(), O_RDONLY);
  if (fd >= 0) {
    char buf[4096];
    EXPECT_EQ(::pread(fd, buf, sizeof buf, 1 << 20), -1);
    EXPECT_EQ(errno, EIO);
    ::close(fd);
  } else {
    EXPECT_EQ(errno, EIO);
  }
  // The rest of the tree is fine.
  RunOrFail("cmp " + Quote(mnt_ + "/vm1/" + second + "/disks/sda.raw") + " " +
            Quote(ConvertPoint(PointFiles(second)[0])));
  // The log names the broken file (the daemon's only way to say why).
  const std::string log = RunOrFail("cat " + daemon_log_);
  EXPECT_NE(log.find(first + ".qcow2"), std::string::npos) << log;
  Unmount();
}

}  // namespace
}  // namespace sendense::test
