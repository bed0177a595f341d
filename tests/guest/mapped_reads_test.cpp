// Guest files read straight from the chain through extent maps, against
// the bytes that went in and against the appliance's reads of the same
// points: an ext4 guest (on a partition, with inline, large, fragmented,
// sparse, preallocated and empty files) built on a loop device, changed
// between points of one chain so that extents move. Then hostile maps in
// the catalog, which must fall back to the appliance.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/guest/ext4_guest_fixture.h"
#include "tests/support/process.h"
#include "tests/support/test_env.h"

namespace sendense::test {
namespace {

class MappedReadsTest : public Ext4GuestFixture {
 protected:
  // A second mount of the repository at `at` that never maps: every guest
  // file read goes through the appliance. Null (and a failure) when it
  // does not come up.
  std::unique_ptr<BackgroundProcess> MountReadingThroughTheAppliance(
      const std::string& at) {
    std::filesystem::create_directories(at);
    auto mount = std::make_unique<BackgroundProcess>(
        "env SENDENSE_GUEST_READS=appliance " + std::string(SENDENSE_BINARY) +
            " -r " + Quote(repo_) + " mount " + Quote(at) + " --foreground",
        dir_ / "appliance-mount.log");
    if (!WaitForMount(at, true)) {
      ADD_FAILURE() << Slurp(dir_ / "appliance-mount.log");
      return nullptr;
    }
    return mount;
  }
};

TEST_F(MappedReadsTest, MappedReadsEqualTheApplianceAtEveryPoint) {
  std::mt19937_64 rng(19);
  const std::string g = guest_ + "/";
  WriteAt(g + "small.txt", 0, "inline\n");
  WriteAt(g + "big.bin", 0, Random(rng, 16 * kMiB));
  for (int i = 0; i < 24; ++i) {  // two files growing in turns: fragments
    WriteAt(g + "frag-a.bin", i * 65536, Random(rng, 65536));
    WriteAt(g + "frag-b.bin", i * 65536, Random(rng, 65536));
  }
  WriteAt(g + "sparse.bin", 0, Random(rng, 4096));
  WriteAt(g + "sparse.bin", 10 * kMiB, Random(rng, 65536));
  WriteAt(g + "sparse.bin", 31 * kMiB, Random(rng, 4096));
  RunOrFail("fallocate -l 8M " + Quote(g + "prealloc.bin"));
  WriteAt(g + "prealloc.bin", 2 * kMiB, Random(rng, kMiB));
  WriteAt(g + "empty", 0, "");
  std::filesystem::create_directories(g + "dir");
  WriteAt(g + "dir/nested.bin", 0, Random(rng, 300000));
  const std::string p1 = Point();

  // Rewritten elsewhere, grown, a hole filled.
  WriteAt(g + "big.new", 0, Random(rng, 16 * kMiB));
  std::filesystem::rename(g + "big.new", g + "big.bin");
  WriteAt(g + "frag-a.bin", 24 * 65536, Random(rng, kMiB));
  WriteAt(g + "sparse.bin", 20 * kMiB, Random(rng, 8192));
  const std::string p2 = Point();

  WriteAt(g + "prealloc.bin", 5 * kMiB, Random(rng, 4096));
  std::filesystem::remove(g + "frag-b.bin");
  WriteAt(g + "small.txt", 0, Random(rng, 10000));  // out of the inode
  const std::string p3 = Point();
  const std::string said = RunOrFail(std::string(SENDENSE_BINARY) + " -r " +
                                     Quote(repo_) + " index");

  // What is mapped: everything but the inline file.
  auto mapped = Mapped(p1);
  EXPECT_FALSE(mapped["/small.txt"]);
  for (const char* f : {"/big.bin", "/frag-a.bin", "/frag-b.bin", "/sparse.bin",
                        "/prealloc.bin", "/empty", "/dir/nested.bin"}) {
    EXPECT_TRUE(mapped[f]) << f << " has no map; index said:\n" << said;
  }
  EXPECT_TRUE(Mapped(p3)["/small.txt"]) << "index said:\n" << said;
  const auto stats = nlohmann::json::parse(
      RunOrFail(std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) +
                " index --stats --json --vm vm1 --point " + p1));
  ASSERT_EQ(stats["backups"].size(), 1u) << stats.dump();
  const auto& sda1 = stats["backups"][0]["filesystems"][0];
  EXPECT_EQ(sda1["regular_files"], 8) << sda1.dump();
  EXPECT_EQ(sda1["mapped_files"], 7) << sda1.dump();
  EXPECT_EQ(
      sda1["file_bytes"].get<int64_t>() - sda1["mapped_bytes"].get<int64_t>(),
      7)
      << "all but small.txt's 7 bytes: " << sda1.dump();

  // Mapped reads (this mount) against the bytes that went in, whole files.
  Mount();
  const std::string fs = "sda1";
  for (const auto& [name, copy] : points_) {
    const std::string root = mnt_ + "/vm1/" + name + "/files/" + fs + "/";
    for (const auto& f : FilesOf(copy)) {
      EXPECT_EQ(Slurp(root + f), Slurp(copy + "/" + f)) << name << " " << f;
    }
  }
  // Holes: SEEK_DATA / SEEK_HOLE on the guest files.
  {
    const std::string root = mnt_ + "/vm1/" + p1 + "/files/" + fs + "/";
    const int sparse = ::open((root + "sparse.bin").c_str(), O_RDONLY);
    ASSERT_GE(sparse, 0);
    EXPECT_EQ(::lseek(sparse, 0, SEEK_HOLE), 4096);
    EXPECT_EQ(::lseek(sparse, 4096, SEEK_DATA), static_cast<off_t>(10 * kMiB));
    EXPECT_EQ(::lseek(sparse, 10 * kMiB, SEEK_HOLE),
              static_cast<off_t>(10 * kMiB + 65536));
    ::close(sparse);
    const int pre = ::open((root + "prealloc.bin").c_str(), O_RDONLY);
    ASSERT_GE(pre, 0);
    EXPECT_EQ(::lseek(pre, 0, SEEK_DATA), static_cast<off_t>(2 * kMiB));
    EXPECT_EQ(::lseek(pre, 2 * kMiB, SEEK_HOLE), static_cast<off_t>(3 * kMiB));
    ::close(pre);
  }

  // The appliance's reads of the same files (a second mount that never
  // maps), whole and in random ranges, at the first and last point.
  const std::string amnt = dir_ / "appliance-mnt";
  const auto appliance_mount = MountReadingThroughTheAppliance(amnt);
  ASSERT_TRUE(appliance_mount);
  for (const std::string& point : {p1, p3}) {
    const std::string mapped_root = mnt_ + "/vm1/" + point + "/files/" + fs;
    const std::string app_root = amnt + "/vm1/" + point + "/files/" + fs;
    for (const auto& f : {"/big.bin", "/frag-a.bin", "/sparse.bin",
                          "/prealloc.bin", "/small.txt", "/dir/nested.bin"}) {
      const std::string a = Slurp(mapped_root + f);
      EXPECT_EQ(a, Slurp(app_root + f)) << point << f;
      const int ma = ::open((mapped_root + f).c_str(), O_RDONLY);
      const int ap = ::open((app_root + f).c_str(), O_RDONLY);
      for (int i = 0; i < 20 && !a.empty(); ++i) {
        const uint64_t at = rng() % a.size();
        const size_t n = 1 + rng() % 200000;
        std::string x(n, '\0'), y(n, '\0');
        const auto gx = ::pread(ma, x.data(), n, static_cast<off_t>(at));
        const auto gy = ::pread(ap, y.data(), n, static_cast<off_t>(at));
        EXPECT_EQ(gx, gy) << point << f << " at " << at;
        EXPECT_EQ(x, y) << point << f << " at " << at;
      }
      ::close(ma);
      ::close(ap);
    }
  }
  RunCommand("fusermount3 -u " + Quote(amnt));
  Unmount();

  // Hostile maps in the catalog: refused, read through the appliance,
  // never a byte from outside the point.
  const auto blob = [](uint64_t file_offset, uint64_t length,
                       uint64_t disk_offset, uint32_t disk) {
    std::string hex;
    char buf[3];
    const auto put = [&](uint64_t v, int bytes) {
      for (int i = 0; i < bytes; ++i) {
        std::snprintf(buf, sizeof buf, "%02x",
                      static_cast<unsigned>((v >> (8 * i)) & 0xff));
        hex += buf;
      }
    };
    put(file_offset, 8);
    put(length, 8);
    put(disk_offset, 8);
    put(disk, 4);
    put(0, 4);
    return hex;
  };
  const std::map<std::string, std::string> hostile = {
      {"/big.bin", "X'" + blob(0, 4096, uint64_t{1} << 40, 0) + "'"},
      {"/frag-a.bin",
       "X'" + blob(0, 8192, 0, 0) + blob(4096, 4096, 0, 0) + "'"},
      {"/frag-b.bin", "zeroblob(32000000)"},
      {"/dir/nested.bin", "X'" + blob(0, 4096, 0, 7) + "'"},
  };
  for (const auto& [path, value] : hostile) {
    CatalogSql("UPDATE guest_files SET extents = " + value + " WHERE path = '" +
               path +
               "' AND fs_id IN (SELECT g.id FROM guest_filesystems g JOIN "
               "backups b ON b.id = g.backup_id WHERE b.name = '" +
               p1 + "')");
  }
  Mount();
  const std::string root = mnt_ + "/vm1/" + p1 + "/files/" + fs;
  for (const auto& [path, value] : hostile) {
    EXPECT_EQ(Slurp(root + path), Slurp(points_[0].copy + path)) << path;
  }
  Unmount();
  const std::string log = Slurp(daemon_log_);
  EXPECT_NE(log.find("a piece outside the backup's disks"), std::string::npos)
      << log;
  EXPECT_NE(log.find("pieces overlap"), std::string::npos) << log;
  EXPECT_NE(log.find("unreadable"), std::string::npos) << log;
}

// A backup of a running guest holds what it fsynced, but the metadata of
// its last moments only in the filesystem's journal: the tree shows the
// filesystem as the guest would see it after a crash (the journal replayed
// in the appliance's overlay), and data the replay puts in place (a guest
// mounted with data=journal) is read through the appliance, not from the
// blocks the backup holds there.
TEST_F(MappedReadsTest, WhatOnlyTheJournalHoldsIsShownAndReadRight) {
  std::mt19937_64 rng(23);
  const std::string g = guest_ + "/";
  // Whether the backup holds `file` only in the journal: the filesystem
  // needs recovery and, read without the journal, has no entry of it.
  // Another process's sync(2) on a busy machine (the other tests) can make
  // the kernel write the metadata in place before the copy; then that
  // point tests reading a settled filesystem, said in a note.
  int journal_only = 0;
  const auto only_in_journal = [&](const std::string& name,
                                   const std::string& file) {
    const std::string part = dir_ / (name + ".raw");
    std::ofstream(part, std::ios::binary) << last_.substr(kPartitionStart);
    const bool recovery =
        RunOrFail("dumpe2fs -h " + Quote(part) + " 2>/dev/null")
            .find("needs_recovery") != std::string::npos;
    const bool listed =
        RunOrFail("debugfs -R 'ls -l /' " + Quote(part) + " 2>/dev/null")
            .find(file) != std::string::npos;
    if (!recovery || listed) {
      std::cerr << "note: " << name << ": the kernel wrote " << file
                << "'s metadata in place before the copy (another process's "
                   "sync); this point reads as a settled filesystem\n";
      return false;
    }
    ++journal_only;
    return true;
  };

  // Data in place (fsynced), its metadata only in the journal.
  RunOrFail("sync -f " + Quote(g) + " && blockdev --flushbufs " + loop_);
  WriteAt(g + "fresh.bin", 0, Random(rng, 6 * kMiB));
  std::filesystem::create_directories(g + "recent");
  WriteAt(g + "recent/note.txt", 0, Random(rng, 20000));
  RunOrFail("sync " + Quote(g + "recent"));  // fsync, not syncfs
  const std::string p1 = Point(/*settled=*/false);
  only_in_journal("p1", "fresh.bin");

  // The data too only in the journal.
  RunOrFail("umount " + Quote(guest_) + " && mount -o data=journal " + loop_ +
            " " + Quote(guest_) + " && sync -f " + Quote(g) +
            " && blockdev --flushbufs " + loop_);
  const std::string journaled = Random(rng, 200000);
  WriteAt(g + "journaled.bin", 0, journaled);
  RunOrFail("sync " + Quote(g));
  const std::string p2 = Point(/*settled=*/false);
  const bool p2_in_journal = only_in_journal("p2", "journaled.bin");
  // The kernel may also write journaled data in place (and let its
  // transaction go) before the copy while the directory entry is still
  // only in the journal: then a map is right, and the reads below prove
  // it. Otherwise the data is only in the journal and must be read
  // through the appliance.
  const bool data_in_place = last_.find(journaled) != std::string::npos;

  const std::string said = RunOrFail(std::string(SENDENSE_BINARY) + " -r " +
                                     Quote(repo_) + " index");
  EXPECT_EQ(said.find("without replaying"), std::string::npos) << said;
  if (data_in_place || !p2_in_journal) {
    std::cerr << "note: the kernel wrote journaled.bin's data in place before "
                 "the copy; its map is checked by reading it\n";
  } else {
    EXPECT_FALSE(Mapped(p2)["/journaled.bin"]) << said;
    EXPECT_NE(said.find("data in the journal the appliance replayed"),
              std::string::npos)
        << said;
  }
  Mount();
  for (const auto& [name, copy] : points_) {
    const std::string root = mnt_ + "/vm1/" + name + "/files/sda1/";
    EXPECT_EQ(FilesOf(copy).size(), name == p1 ? 2u : 3u);
    for (const auto& f : FilesOf(copy)) {
      EXPECT_EQ(Slurp(root + f), Slurp(copy + "/" + f)) << name << " " << f;
    }
  }
  Unmount();
  std::cerr << "note: " << journal_only
            << " of 2 points held their last metadata only in the journal\n";
}

// An encrypted repository: the appliance's qemu reads each point's LUKS
// chain served decrypted, the index maps the files, and the tree reads
// them (mapped and through the appliance) as they went in, while no block
// of a known file is stored in plaintext. Without the key, the index says
// so in one sentence, and a later `index --retry` does the work.
TEST_F(MappedReadsTest, GuestFilesOfEncryptedPointsAreIndexedAndRead) {
  std::filesystem::remove_all(repo_);
  const std::string key = dir_ / "repo.key";
  ASSERT_EQ(Sendense("init --encrypt --key-file " + Quote(key)).status, 0);
  std::mt19937_64 rng(29);
  const std::string g = guest_ + "/";
  std::string marked;
  while (marked.size() < 256 * 1024) {
    marked += "SENDENSE-PLAINTEXT-MARKER-4096-";
  }
  WriteAt(g + "marked.txt", 0, marked);
  WriteAt(g + "big.bin", 0, Random(rng, 4 * kMiB));
  std::filesystem::create_directories(g + "dir");
  WriteAt(g + "dir/nested.bin", 0, Random(rng, 300000));
  const std::string p1 = Point();
  WriteAt(g + "big.bin", kMiB, Random(rng, kMiB));
  WriteAt(g + "added.bin", 0, Random(rng, 200000));
  const std::string p2 = Point();

  const auto missing = RunCommand(
      "env SENDENSE_KEY_FILE=" + Quote(dir_ / "no.key") + " " +
      std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) + " index");
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.output.find("key"), std::string::npos) << missing.output;
  const std::string said = RunOrFail(std::string(SENDENSE_BINARY) + " -r " +
                                     Quote(repo_) + " index --retry");
  for (const auto& point : {p1, p2}) {
    auto mapped = Mapped(point);
    EXPECT_TRUE(mapped["/big.bin"]) << point << "; index said:\n" << said;
    EXPECT_TRUE(mapped["/marked.txt"]) << point << "; index said:\n" << said;
  }
  EXPECT_TRUE(Mapped(p2)["/added.bin"]) << said;
  const std::string stored =
      RunCommand("grep -rlc SENDENSE-PLAINTEXT-MARKER " + Quote(repo_ + "/vms"))
          .output;
  EXPECT_EQ(stored, "") << "plaintext stored in " << stored;

  Mount();
  for (const auto& [name, copy] : points_) {
    const std::string root = mnt_ + "/vm1/" + name + "/files/sda1/";
    for (const auto& f : FilesOf(copy)) {
      EXPECT_EQ(Slurp(root + f), Slurp(copy + "/" + f)) << name << " " << f;
    }
  }
  Unmount();
  const std::string amnt = dir_ / "appliance-mnt";
  const auto appliance_mount = MountReadingThroughTheAppliance(amnt);
  ASSERT_TRUE(appliance_mount);
  const std::string root = amnt + "/vm1/" + p2 + "/files/sda1/";
  for (const auto& f : FilesOf(points_[1].copy)) {
    EXPECT_EQ(Slurp(root + f), Slurp(points_[1].copy + "/" + f)) << f;
  }
  RunCommand("fusermount3 -u " + Quote(amnt));
}

}  // namespace
}  // namespace sendense::test
