// The appliance's private overlay: qemu writes into it (here qemu-io, as
// the appliance's qemu does on a journal replay), the backup under it is
// untouched, and the written ranges are listed, also once its name is gone.
// An encrypted chain reaches the appliance's qemu served decrypted.

#include "engine/guest/appliance_overlay.h"
#include "engine/guest/decrypted_chain.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/test_env.h"

namespace sendense::guest {
namespace {

using test::Quote;
using test::RunOrFail;

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;

TEST(ApplianceOverlayTest, WritesLandInItAndAreListed) {
  const test::TempDir dir;
  const std::string base = dir / "point.qcow2";
  RunOrFail("qemu-img create -q -f qcow2 " + Quote(base) +
            " 8M && qemu-io -f " + "qcow2 -c 'write -q -P 0x5a 0 8M' " +
            Quote(base));
  const std::string before = RunOrFail("sha256sum < " + Quote(base));

  ApplianceOverlay overlay(std::filesystem::canonical(base), "qcow2", 8 * kMiB);
  EXPECT_TRUE(overlay.Written().empty());
  const std::string info =
      RunOrFail("qemu-img info --output=json " + Quote(overlay.path()));
  EXPECT_NE(info.find("\"backing-filename-format\": \"qcow2\""),
            std::string::npos)
      << info;
  // 100 KiB at 1 MiB (25 clusters of 4 KiB), 4 KiB at 5 MiB - 1 KiB (two,
  // across a cluster boundary), zeros at 7 MiB.
  RunOrFail(
      "qemu-io -f qcow2 -c 'write -q -P 0xa5 1M 100k' -c 'write -q "
      "-P 0xa5 5119k 4k' -c 'write -q -z 7M 64k' " +
      Quote(overlay.path()));
  const std::vector<DiskRange> want = {{kMiB, 100 * kKiB},
                                       {5 * kMiB - 4 * kKiB, 8 * kKiB},
                                       {7 * kMiB, 64 * kKiB}};
  auto written = overlay.Written();
  ASSERT_EQ(written.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(written[i].offset, want[i].offset) << i;
    EXPECT_EQ(written[i].length, want[i].length) << i;
  }
  EXPECT_EQ(RunOrFail("sha256sum < " + Quote(base)), before)
      << "the point under the overlay was written";

  // Its name goes once qemu has it open; it is still read.
  const std::string path = overlay.path();
  overlay.Forget();
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(
      std::filesystem::exists(std::filesystem::path(path).parent_path()));
  EXPECT_EQ(overlay.Written().size(), want.size());
}

// What a killed indexer left (its overlay folder, noted under its pid) is
// removed by the next overlay made; a live owner's is kept.
TEST(ApplianceOverlayTest, AKilledOwnersFolderIsReclaimedByTheNext) {
  const test::TempDir dir;
  const std::string base = dir / "point.qcow2";
  RunOrFail("qemu-img create -q -f qcow2 " + Quote(base) + " 8M");
  const pid_t gone = ::fork();
  if (gone == 0) {
    ::_exit(0);
  }
  ::waitpid(gone, nullptr, 0);
  char left[] = "/var/tmp/sendense-overlay-XXXXXX";
  ASSERT_NE(::mkdtemp(left), nullptr);
  RunOrFail("truncate -s 1M " + Quote(std::string(left) + "/drive.qcow2"));
  const std::string ledger = "/var/tmp/sendense-leftovers";
  std::filesystem::create_directories(ledger);
  const std::string note = ledger + "/" + std::to_string(gone) + "-0";
  RunOrFail("echo " + Quote(left) + " > " + Quote(note));
  // The same for a live owner (this test): kept.
  char kept[] = "/var/tmp/sendense-overlay-XXXXXX";
  ASSERT_NE(::mkdtemp(kept), nullptr);
  const std::string live =
      ledger + "/" + std::to_string(::getpid()) + "-999999";
  RunOrFail("echo " + Quote(kept) + " > " + Quote(live));

  ApplianceOverlay overlay(std::filesystem::canonical(base), "qcow2", 8 * kMiB);
  EXPECT_FALSE(std::filesystem::exists(left)) << "a dead owner's folder stays";
  EXPECT_FALSE(std::filesystem::exists(note));
  EXPECT_TRUE(std::filesystem::exists(kept)) << "a live owner's was removed";
  overlay.Forget();
  std::filesystem::remove(live);
  std::filesystem::remove_all(kept);
}

// Two LUKS layers made by qemu: the overlay over the served chain reads
// as the plaintext; the server goes once its one client is done, and
// nothing of it is left in /var/tmp.
TEST(ApplianceOverlayTest, AnEncryptedChainIsReadThroughItsServer) {
  const test::TempDir dir;
  const std::string key = dir / "key";
  { std::ofstream(key) << "a-passphrase-of-at-least-32-bytes-0123"; }
  std::filesystem::permissions(key, std::filesystem::perms::owner_read |
                                        std::filesystem::perms::owner_write);
  const std::string secret = "--object secret,id=k,file=" + key + " ";
  const std::string base = dir / "base.qcow2", top = dir / "top.qcow2";
  const std::string luks =
      "-o encrypt.format=luks,encrypt.key-secret=k,encrypt.iter-time=10 ";
  RunOrFail("qemu-img create -q " + secret + "-f qcow2 " + luks + Quote(base) +
            " 8M && qemu-img create -q " + secret + "-f qcow2 " + luks + "-b " +
            Quote(base) + " -F qcow2 " + Quote(top));
  const std::string opts = "driver=qcow2,file.filename=" + top +
                           ",encrypt.key-secret=k,backing.encrypt.key-secret=k";
  RunOrFail("qemu-io " + secret + "--image-opts " + Quote(opts) +
            " -c 'write -q -P 0x11 0 8M' -c 'write -q -P 0x22 1M 64k'");
  RunOrFail(
      "qemu-io " + secret + "--image-opts " +
      Quote("driver=qcow2,file.filename=" + base + ",encrypt.key-secret=k") +
      " -c 'write -q -P 0x33 4M 64k'");
  const std::string expect = dir / "expect.raw";
  RunOrFail("qemu-img convert " + secret + "--image-opts " + Quote(opts) +
            " -O raw " + Quote(expect));

  std::string socket_dir;
  {
    DecryptedChain chain(std::filesystem::canonical(top), {0, 1}, key);
    socket_dir = chain.uri().substr(chain.uri().find('=') + 1);
    socket_dir = std::filesystem::path(socket_dir).parent_path();
    EXPECT_EQ(std::filesystem::status(socket_dir).permissions() &
                  std::filesystem::perms::others_all,
              std::filesystem::perms::none);
    ApplianceOverlay overlay(chain.uri(), "raw", 8 * kMiB);
    EXPECT_NE(RunOrFail("qemu-img info -U " + Quote(overlay.path()))
                  .find("backing file format: raw"),
              std::string::npos);
    RunOrFail("qemu-img compare -q -f qcow2 -F raw " + Quote(overlay.path()) +
              " " + Quote(expect));
    chain.Forget();
    EXPECT_FALSE(std::filesystem::exists(socket_dir));
    bool gone = false;
    for (int i = 0; i < 100 && !gone; ++i) {
      gone = test::RunCommand("pgrep -f " + Quote("[q]emu-nbd.*" + socket_dir))
                 .status != 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(gone) << "the server outlived its one client";
  }
  EXPECT_EQ(
      test::RunCommand("pgrep -f " + Quote("[q]emu-nbd.*" + socket_dir)).status,
      1);
}

}  // namespace
}  // namespace sendense::guest
