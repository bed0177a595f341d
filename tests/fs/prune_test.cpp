// Retention through the real binary: prune and forget merge dropped points
// away while every remaining point stays byte-identical to the source as
// it was at its backup (qemu-img compare) and every file checks clean
// (qemu-img check); kill -9 at random moments loses nothing; the mounted
// tree keeps serving during prunes.

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <thread>

#include "tests/support/mount_fixture.h"

namespace sendense::test {
namespace {

class PruneTest : public MountFixture {
 protected:
  // Takes a backup after `changes` (qemu-io commands) and remembers the
  // source as it was.
  std::string Backup(const std::string& changes) {
    if (!changes.empty()) {
      ChangeSource(changes);
    }
    const std::string name = TakeBackup(expected_.empty() ? "" : "--bitmap b0");
    expected_[name] = SnapshotSource("at-" + name);
    return name;
  }

  // Complete points (name -> point file) as `list --json` shows them.
  std::map<std::string, std::string> Points() {
    std::map<std::string, std::string> points;
    const auto list = SendenseJson("list --json");
    for (const auto& vm : list["vms"]) {
      for (const auto& b : vm["backups"]) {
        if (b["state"] == "complete") {
          points[b["name"]] = b["points"][0]["file"];
        }
      }
    }
    return points;
  }

  // Every complete point reads as the source did at its backup, and every
  // point file checks clean.
  void ExpectPointsIntact(const std::string& when) {
    for (const auto& [name, file] : Points()) {
      const auto cmp = RunCommand("qemu-img compare -U -f qcow2 -F raw " +
                                  Quote(repo_ + "/" + file) + " " +
                                  Quote(expected_.at(name)) + " 2>&1");
      EXPECT_EQ(cmp.status, 0) << when << ": " << name << "\n" << cmp.output;
      const auto check = RunCommand("qemu-img check -U -f qcow2 " +
                                    Quote(repo_ + "/" + file) + " 2>&1");
      EXPECT_EQ(check.status, 0) << when << ": " << name << "\n"
                                 << check.output;
    }
  }

  uint64_t RepoBytes() {
    return std::stoull(
        RunOrFail("du -s -B1 " + Quote(repo_ + "/vms") + " | cut -f1"));
  }

  // Five points: zeros over data, discards, rewrites and new data.
  std::vector<std::string> FivePoints() {
    std::vector<std::string> names;
    names.push_back(Backup(""));
    names.push_back(
        Backup("-c 'write -q -P 0x44 2M 1M' -c 'write -q -z 12M "
               "64k' -c 'write -q -P 0x45 30M 2M'"));
    names.push_back(
        Backup("-c 'discard -q 14M 512k' -c 'write -q -P 0x46 "
               "40M 3M' -c 'write -q -P 0x47 1M 256k'"));
    names.push_back(
        Backup("-c 'write -q -z 30M 1M' -c 'write -q -P 0x48 "
               "50M 4M'"));
    names.push_back(
        Backup("-c 'write -q -P 0x49 0 64k' -c 'write -q -P 0x4a "
               "41M 1M'"));
    return names;
  }

  std::map<std::string, std::string> expected_;  // point -> raw at backup
};

TEST_F(PruneTest, KeepLastMergesTheRestAwayAndEveryPointStaysIdentical) {
  const auto names = FivePoints();
  const auto dry =
      SendenseJson("prune --vm vm1 --keep-last 2 --dry-run --json");
  const auto& plan = dry["prunes"][0]["points"];
  ASSERT_EQ(plan.size(), 5u);
  EXPECT_EQ(plan[0]["name"], names[4]);
  EXPECT_EQ(plan[0]["action"], "keep");
  EXPECT_EQ(plan[0]["reasons"][0], "last");
  EXPECT_EQ(plan[1]["action"], "keep");
  for (int i = 2; i < 5; ++i) {
    EXPECT_EQ(plan[i]["action"], "drop") << plan[i];
  }
  EXPECT_EQ(Points().size(), 5u) << "a dry run dropped something";

  // What the backups read from the source, by point.
  uint64_t read_by_four_oldest = 0;
  {
    const auto list = SendenseJson("list --json");
    for (int i = 0; i < 4; ++i) {
      read_by_four_oldest +=
          list["vms"][0]["backups"][i]["points"][0]["bytes_read"]
              .get<uint64_t>();
    }
  }
  const uint64_t before = RepoBytes();
  const auto done = SendenseJson("prune --vm vm1 --keep-last 2 --json");
  EXPECT_EQ(done["prunes"][0]["dropped"].size(), 3u);
  const auto points = Points();
  ASSERT_EQ(points.size(), 2u);
  EXPECT_TRUE(points.count(names[3]) && points.count(names[4]));
  ExpectPointsIntact("after prune");
  EXPECT_LT(RepoBytes(), before);
  // A plain chain of two files that any qemu tool reads.
  const auto chain = RunOrFail("qemu-img info -U --backing-chain " +
                               Quote(repo_ + "/" + points.at(names[4])));
  EXPECT_NE(chain.find(points.at(names[3])), std::string::npos) << chain;
  EXPECT_EQ(RepoFiles().size(), 2u);
  // The oldest remaining point is now a full that holds what the four
  // oldest backups read (one truth: "read" beside "on disk").
  const auto list = SendenseJson("list --json");
  const auto& merged = list["vms"][0]["backups"][0]["points"][0];
  EXPECT_EQ(merged["kind"], "full");
  EXPECT_EQ(merged["bytes_read"].get<uint64_t>(), read_by_four_oldest);
  // The next incremental still builds on the newest point.
  const auto next = Backup("-c 'write -q -P 0x4b 5M 1M'");
  ExpectPointsIntact("after the next backup");
}

TEST_F(PruneTest, ForgetDropsAMiddlePointAndRefusesTheNewest) {
  const auto names = FivePoints();
  auto r = Sendense("forget --vm vm1 " + names[4]);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.output, "sendense: '" + names[4] +
                          "' is the newest point of VM 'vm1': the next "
                          "incremental backup builds on it; back up first, "
                          "then forget it\n");
  r = Sendense("forget --vm vm1 2001-01-01T00.00.00Z " + names[2]);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.output,
            "sendense: VM 'vm1' has no point named "
            "'2001-01-01T00.00.00Z'\n");
  EXPECT_EQ(Points().size(), 5u) << "a refused forget dropped something";
  r = Sendense("forget --vm vm1 " + names[2] + " " + names[0]);
  EXPECT_EQ(r.status, 0) << r.output;
  const auto points = Points();
  EXPECT_EQ(points.size(), 3u);
  EXPECT_FALSE(points.count(names[2]) || points.count(names[0]));
  ExpectPointsIntact("after forget");
}

TEST_F(PruneTest, APolicyIsStoredWithTheVmAndNeededWithoutFlags) {
  FivePoints();
  auto r = Sendense("prune --vm vm1");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("VM 'vm1' has no retention policy"),
            std::string::npos)
      << r.output;
  r = Sendense("prune");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("no VM has a retention policy"), std::string::npos)
      << r.output;
  ASSERT_EQ(Sendense("vm add vm1 --disk sda=nbd://127.0.0.1/x --keep-last 3 "
                     "--keep-daily 7")
                .status,
            0);
  const auto vms = SendenseJson("vm list --json");
  EXPECT_EQ(vms["vms"][0]["retention"],
            nlohmann::json({{"keep_last", 3}, {"keep_daily", 7}}));
  r = Sendense("prune");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(Points().size(), 3u);
  ASSERT_EQ(Sendense("vm set vm1 --keep-last 1").status, 0);
  EXPECT_EQ(SendenseJson("vm list --json")["vms"][0]["retention"],
            nlohmann::json({{"keep_last", 1}}));
  EXPECT_EQ(Sendense("prune --vm vm1").status, 0);
  EXPECT_EQ(Points().size(), 1u);
  ExpectPointsIntact("after the stored policy");
}

TEST_F(PruneTest, APruneWaitsForItsTurnWhileABackupHoldsTheVm) {
  FivePoints();
  // The lock a running backup holds (flock on locks/vm1.lock).
  BackgroundProcess backup("flock " + Quote(repo_ + "/locks/vm1.lock") +
                           " sleep 30");
  ASSERT_TRUE(Eventually(
      [&] { return RunCommand("grep -q FLOCK /proc/locks").status == 0; }));
  const auto r = Sendense("prune --vm vm1 --keep-last 1");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.output,
            "sendense: VM 'vm1' is busy: a backup or prune of it "
            "is running; try again when it ends\n")
      << "a lock held by another program names no work";
  EXPECT_EQ(Points().size(), 5u);
}

TEST_F(PruneTest, KillNineAtAnyMomentLosesNothing) {
  std::vector<std::string> names;
  names.push_back(Backup(""));
  for (int i = 1; i < 8; ++i) {
    const std::string at = std::to_string(i * 6) + "M";
    names.push_back(Backup("-c 'write -q -P " + std::to_string(0x50 + i) + " " +
                           at + " 3M' -c 'write -q -z " +
                           std::to_string(i * 6 + 4) + "M 256k'"));
  }
  std::mt19937_64 rng(42);
  for (int round = 0; round < 6; ++round) {
    const auto points = Points();
    const std::string oldest = points.begin()->first;
    BackgroundProcess forget(std::string(SENDENSE_BINARY) + " -r " +
                             Quote(repo_) + " forget --vm vm1 " + oldest);
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 120));
    forget.Signal(SIGKILL);
    forget.Wait();
    ExpectPointsIntact("after kill " + std::to_string(round));
  }
  // The next prune finishes whatever a kill interrupted.
  const auto r = Sendense("prune --vm vm1 --keep-last 2");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(Points().size(), 2u);
  ExpectPointsIntact("after the final prune");
  EXPECT_EQ(RepoFiles().size(), 2u);
  const auto list = SendenseJson("list --json");
  for (const auto& b : list["vms"][0]["backups"]) {
    EXPECT_NE(b["state"], "dropping") << b;
  }
}

TEST_F(PruneTest, TheTreeKeepsServingWhilePointsAreDropped) {
  const auto names = FivePoints();
  Mount();
  std::atomic<bool> stop{false};
  std::atomic<int> mismatches{0}, reads{0};
  // Readers of the two points that stay, comparing every byte.
  std::vector<std::thread> readers;
  // Joined however the test ends (an exception must not leave them
  // running: that is std::terminate).
  struct Joiner {
    std::atomic<bool>& stop;
    std::vector<std::thread>& threads;
    ~Joiner() {
      stop = true;
      for (auto& t : threads) {
        if (t.joinable()) {
          t.join();
        }
      }
    }
  } joiner{stop, readers};
  for (const std::string& keep : {names[3], names[4]}) {
    readers.emplace_back([&, keep, want = ReadFile(expected_.at(keep))] {
      const std::string raw = mnt_ + "/vm1/" + keep + "/disks/sda.raw";
      std::mt19937_64 rng(keep.size());
      std::vector<std::byte> buf(1 << 20);
      while (!stop) {
        const int fd = ::open(raw.c_str(), O_RDONLY);
        if (fd < 0) {
          ++mismatches;
          continue;
        }
        for (int i = 0; i < 20; ++i) {
          const size_t len = 1 + rng() % buf.size();
          const off_t off = static_cast<off_t>(rng() % (want.size() - len));
          if (::pread(fd, buf.data(), len, off) != static_cast<ssize_t>(len) ||
              !std::equal(buf.begin(), buf.begin() + len, want.begin() + off)) {
            ++mismatches;
          }
          ++reads;
        }
        ::close(fd);
      }
    });
  }
  const std::string json_path = mnt_ + "/vm1/" + names[3] + "/backup.json";
  const auto kind = [&] {
    const auto bytes = ReadFile(json_path);
    return nlohmann::json::parse(
        std::string(reinterpret_cast<const char*>(bytes.data()),
                    bytes.size()))["points"][0]["kind"];
  };
  EXPECT_EQ(kind(), "incremental");
  // The record is read all along: old or new text, never an error (the
  // kernel may name the replaced node until it is told).
  std::atomic<int> bad_records{0};
  readers.emplace_back([&] {
    while (!stop) {
      try {
        const std::string k = kind();
        if (k != "incremental" && k != "full") {
          ++bad_records;
        }
      } catch (const std::exception&) {
        ++bad_records;
      }
    }
  });
  // The readers are reading before the prune starts, not only after.
  EXPECT_TRUE(Eventually([&] { return reads > 0; }));
  const auto r = Sendense("prune --vm vm1 --keep-last 2");
  EXPECT_EQ(r.status, 0) << r.output;
  // The record in the tree follows: the oldest point left is a full now.
  EXPECT_TRUE(Eventually([&] { return kind() == "full"; }, 5));
  EXPECT_TRUE(Eventually(
      [&] {
        return ::access((mnt_ + "/vm1/" + names[0]).c_str(), F_OK) != 0 &&
               ::access((mnt_ + "/vm1/" + names[2]).c_str(), F_OK) != 0;
      },
      5))
      << "dropped points still in the tree";
  const int before = reads;
  EXPECT_TRUE(Eventually([&] { return reads > before + 40; }));
  stop = true;
  for (auto& t : readers) {
    t.join();
  }
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(bad_records.load(), 0) << "backup.json unreadable during a prune";
  EXPECT_GT(reads.load(), 0);
  ExpectPointsIntact("after a live prune");
  Unmount();
}

TEST_F(PruneTest, AReaderOfTheDroppedPointFinishesFirst) {
  const auto names = FivePoints();
  Mount();
  const std::string raw = mnt_ + "/vm1/" + names[1] + "/disks/sda.raw";
  const int fd = ::open(raw.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  auto r = Sendense("forget --vm vm1 --reader-wait 1 " + names[1]);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("is open for reading"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("the point stays hidden, nothing is lost"),
            std::string::npos)
      << r.output;
  // Hidden from the tree, yet the open file still reads the point.
  EXPECT_TRUE(Eventually(
      [&] { return ::access((mnt_ + "/vm1/" + names[1]).c_str(), F_OK) != 0; },
      5));
  const auto want = ReadFile(expected_.at(names[1]));
  std::vector<std::byte> got(want.size());
  ASSERT_EQ(::pread(fd, got.data(), got.size(), 0),
            static_cast<ssize_t>(got.size()));
  EXPECT_TRUE(got == want);
  ::close(fd);
  // Closed: the drop goes through (the FUSE release may lag a moment).
  EXPECT_TRUE(Eventually(
      [&] { return Sendense("forget --vm vm1 " + names[1]).status == 0; }, 10));
  EXPECT_EQ(Points().size(), 4u);
  ExpectPointsIntact("after the reader closed");
  Unmount();
}

}  // namespace
}  // namespace sendense::test

namespace sendense::test {
namespace {

// All disks of a backup go together: two disks (the same source served
// twice), the middle backup forgotten, both chains intact.
TEST_F(PruneTest, AllDisksOfAPointGoTogether) {
  std::vector<std::string> names;
  std::vector<std::string> raws;
  for (int i = 0; i < 3; ++i) {
    if (i > 0) {
      ChangeSource("-c 'write -q -P " + std::to_string(0x30 + i) + " " +
                   std::to_string(i * 5) + "M 2M'");
    }
    NbdServer a(dir_.path(), QemuNbdCommand(source_, "b0"));
    NbdServer b(dir_.path(), QemuNbdCommand(source_, "b0"));
    const auto r =
        SendenseJson("backup --no-index --vm vm1 --disk sda=" + Quote(a.uri()) +
                     " --disk sdb=" + Quote(b.uri()) +
                     (i > 0 ? " --bitmap b0" : "") + " --json");
    names.push_back(r.value("name", ""));
    raws.push_back(SnapshotSource("two-" + std::to_string(i)));
  }
  ASSERT_EQ(PointFiles(names[1]).size(), 2u);
  EXPECT_EQ(Sendense("forget --vm vm1 " + names[1]).status, 0);
  EXPECT_TRUE(PointFiles(names[1]).empty());
  for (const int i : {0, 2}) {
    const auto files = PointFiles(names[i]);
    ASSERT_EQ(files.size(), 2u);
    for (const auto& f : files) {
      RunOrFail("qemu-img compare -U -f qcow2 -F raw " +
                Quote(repo_ + "/" + f) + " " + Quote(raws[i]));
      RunOrFail("qemu-img check -U " + Quote(repo_ + "/" + f));
    }
  }
  EXPECT_EQ(RepoFiles().size(), 4u);
}

}  // namespace
}  // namespace sendense::test
