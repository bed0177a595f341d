#pragma once

// An ext4 guest on a partition of a raw disk, built on a loop device and
// changed between points: each Point() publishes the disk's changed
// chunks to the qcow2 source through qemu-io (so that the dirty bitmap
// holds just them), takes a backup and keeps a copy of the guest's files
// as they were.

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/mount_fixture.h"
#include "tests/support/process.h"
#include "tests/support/test_env.h"

namespace sendense::test {

inline constexpr uint64_t kMiB = 1 << 20;
inline constexpr uint64_t kPartitionStart = kMiB;

inline std::string Random(std::mt19937_64& rng, size_t n) {
  const auto bytes = RandomBytes(rng, n);
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// Writes `data` at `offset` of `path` (created if needed), then fsyncs:
// each call is an allocation of its own.
inline void WriteAt(const std::string& path,
                    uint64_t offset,
                    const std::string& data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset)),
            static_cast<ssize_t>(data.size()));
  ::fsync(fd);
  ::close(fd);
}

class Ext4GuestFixture : public MountFixture {
 protected:
  void SetUp() override {
    MountFixture::SetUp();
    if (IsSkipped()) {
      return;
    }
    if (!CanUseLoopDevices()) {
      GTEST_SKIP() << "SKIPPED LOUDLY: building the ext4 guest needs root "
                      "and loop devices";
    }
    disk_ = dir_ / "guest.raw";
    guest_ = dir_ / "guest";
    std::filesystem::create_directories(guest_);
    RunOrFail("truncate -s 96M " + Quote(disk_) +
              " && echo 'start=2048, type=83' | sfdisk -q " + Quote(disk_));
    loop_ = RunOrFail("losetup --find --show -o " +
                      std::to_string(kPartitionStart) + " " + Quote(disk_));
    loop_.erase(loop_.find_last_not_of('\n') + 1);
    // inline_data: small files live in the inode (the appliance reads them).
    RunOrFail("mkfs.ext4 -q -b 4096 -O inline_data " + loop_ + " && mount " +
              loop_ + " " + Quote(guest_));
  }

  void TearDown() override {
    if (!loop_.empty()) {
      RunCommand("umount " + Quote(guest_) + " 2>/dev/null; losetup -d " +
                 loop_);
    }
    MountFixture::TearDown();
  }

  // The guest disk as the source's next state: the chunks that changed go
  // through qemu-io, so that the dirty bitmap holds just them. `settled`:
  // the kernel's cached metadata written in place first; otherwise the disk
  // as a crash would leave it (what was fsynced is in the journal).
  void Publish(bool settled = true) {
    if (settled) {
      RunOrFail("sync -f " + Quote(guest_ + "/.") +
                " && blockdev --flushbufs " + loop_);
    }
    const std::string now = Slurp(disk_);
    if (last_.empty()) {
      RunOrFail("qemu-img convert -f raw -O qcow2 " + Quote(disk_) + " " +
                Quote(source_) + " && qemu-img bitmap --add " + Quote(source_) +
                " b0");
    } else {
      constexpr size_t kChunk = 64 * 1024;
      std::string commands;
      for (size_t at = 0; at < now.size();) {
        size_t end = at;
        while (end < now.size() &&
               now.compare(end, kChunk, last_, end, kChunk) != 0) {
          end += kChunk;
        }
        if (end == at) {
          at += kChunk;
          continue;
        }
        const std::string piece = dir_ / ("piece-" + std::to_string(at));
        std::ofstream(piece, std::ios::binary) << now.substr(at, end - at);
        commands += " -c 'write -q -s " + piece + " " + std::to_string(at) +
                    " " + std::to_string(end - at) + "'";
        at = end;
      }
      ASSERT_FALSE(commands.empty());
      ChangeSource(commands);
    }
    last_ = now;
  }

  // Takes a point and keeps what its files held.
  std::string Point(bool settled = true) {
    Publish(settled);
    const std::string name = TakeBackup();
    const std::string copy =
        dir_ / ("expect-" + std::to_string(points_.size()));
    RunOrFail("cp -a --sparse=always " + Quote(guest_) + " " + Quote(copy));
    points_.push_back({name, copy});
    return name;
  }

  // Regular files of a point (paths relative to its filesystem root).
  std::vector<std::string> FilesOf(const std::string& copy) {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(copy)) {
      if (e.is_regular_file() &&
          e.path().string().find("/lost+found") == std::string::npos) {
        out.push_back(std::filesystem::relative(e.path(), copy));
      }
    }
    return out;
  }

  // Which files of `point` have a map, from the catalog.
  std::map<std::string, bool> Mapped(const std::string& point) {
    const auto r = RunOrFail(
        "sqlite3 -cmd '.timeout 10000' " + Quote(repo_ + "/catalog.db") +
        " \"SELECT f.path, f.extents IS NOT NULL FROM guest_files f JOIN "
        "guest_filesystems g ON g.id = f.fs_id JOIN backups b ON b.id = "
        "g.backup_id WHERE b.name = '" +
        point + "' AND (f.mode & 61440) = 32768\"");
    std::map<std::string, bool> out;
    std::istringstream lines(r);
    for (std::string line; std::getline(lines, line);) {
      const size_t bar = line.rfind('|');
      out[line.substr(0, bar)] = line.substr(bar + 1) == "1";
    }
    return out;
  }

  std::string disk_, guest_, loop_;
  std::string last_;
  struct Taken {
    std::string name, copy;
  };
  std::vector<Taken> points_;
};

}  // namespace sendense::test
