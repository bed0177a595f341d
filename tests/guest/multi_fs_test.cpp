// XFS on LVM, NTFS and VFAT on GPT: disks built in a libguestfs appliance
// by guestfish, backed up through the real engine, indexed, and read back
// through the mounted tree.

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/support/mount_fixture.h"
#include "tests/support/process.h"
#include "tests/support/test_env.h"

namespace sendense::test {
namespace {

class MultiFsTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::access("/dev/fuse", R_OK | W_OK) != 0) {
      return;
    }
    env_ = new Env;
    Env& e = *env_;
    e.repo = e.dir / "repo";
    e.mnt = e.dir / "mnt";
    std::filesystem::create_directories(e.mnt);
    RunOrFail(std::string(SENDENSE_BINARY) + " -r " + Quote(e.repo) + " init");
    std::mt19937_64 rng(23);
    WriteFile(e.dir / "big.bin", RandomBytes(rng, 3 << 20));
    // Building the disks is not what is tested: TCG works everywhere.
    const std::string script = e.dir / "build.gf";
    std::ofstream(script) << R"(sparse gpt.img 256M
sparse lvm.img 512M
run
part-init /dev/sda gpt
part-add /dev/sda p 2048 264191
part-add /dev/sda p 264192 -2048
mkfs vfat /dev/sda1
mkfs ntfs /dev/sda2
pvcreate /dev/sdb
vgcreate vg0 /dev/sdb
lvcreate root vg0 400
mkfs xfs /dev/vg0/root
mount /dev/sda1 /
mkdir-p /EFI/debian
write /EFI/debian/grub.cfg "set timeout=5\n"
upload big.bin /big.bin
umount /
mount /dev/sda2 /
mkdir-p "/Users/Bob/My Documents"
write "/Users/Bob/My Documents/report.txt" "quarterly report\n"
upload big.bin /big.bin
umount /
mount /dev/vg0/root /
mkdir-p /etc
write /etc/hostname "xfs-guest\n"
chmod 0600 /etc/hostname
ln-s /etc/hostname /hostname-link
upload big.bin /big.bin
umount /
)";
    RunOrFail("cd " + Quote(e.dir.path()) +
              " && LIBGUESTFS_BACKEND=direct "
              "LIBGUESTFS_BACKEND_SETTINGS=force_tcg guestfish -f " +
              Quote(script));
    // NTFS's own kinds of data, made by ntfs-3g on the host: a compressed
    // file (a folder marked for compression) and a sparse one.
    if (::geteuid() == 0) {
      const std::string nm = e.dir / "ntfs";
      std::filesystem::create_directories(nm);
      const std::string loop =
          RunOrFail("losetup --find --show -o " + std::to_string(264192 * 512) +
                    " " + Quote(e.dir / "gpt.img"));
      const std::string dev = loop.substr(0, loop.find('\n'));
      RunOrFail("ntfs-3g " + dev + " " + Quote(nm) + " && mkdir " +
                Quote(nm + "/Compressed") +
                " && setfattr -n system.ntfs_attrib_be -v 0x00000810 " +
                Quote(nm + "/Compressed") +
                " && yes 'compressible line' | "
                "head -c 300000 >" +
                Quote(nm + "/Compressed/c.txt") + " && truncate -s 20M " +
                Quote(nm + "/sparse.bin") +
                " && printf tail | dd of=" + Quote(nm + "/sparse.bin") +
                " bs=1 seek=15000000 conv=notrunc status=none; umount " +
                Quote(nm) + "; losetup -d " + dev);
      e.ntfs_extras = true;
    }
    NbdServer a(e.dir.path(),
                "qemu-nbd -r -f raw -t -k {sock} " + Quote(e.dir / "gpt.img"));
    NbdServer b(e.dir.path(),
                "qemu-nbd -r -f raw -t -k {sock} " + Quote(e.dir / "lvm.img"));
    const auto r = RunCommand(
        "( " + std::string(SENDENSE_BINARY) + " -r " + Quote(e.repo) +
        " backup --vm multi --json --disk sda=" + Quote(a.uri()) +
        " --disk sdb=" + Quote(b.uri()) + " >" + Quote(e.dir / "backup.json") +
        " )");
    EXPECT_EQ(r.status, 0) << r.output;
    e.backup_log = r.output;  // stderr: what indexing said
    e.daemon = std::make_unique<BackgroundProcess>(
        std::string(SENDENSE_BINARY) + " -r " + Quote(e.repo) + " mount " +
            Quote(e.mnt) + " --foreground",
        e.dir / "mount.log");
    if (!WaitForMount(e.mnt, true)) {
      ADD_FAILURE() << "the tree did not mount at " << e.mnt << ": "
                    << RunCommand("cat " + Quote(e.dir / "mount.log")).output;
    }
  }

  static void TearDownTestSuite() {
    if (env_ != nullptr) {
      RunCommand("fusermount3 -u -z " + Quote(env_->mnt));
      delete env_;
      env_ = nullptr;
    }
  }

  void SetUp() override {
    if (env_ == nullptr) {
      GTEST_SKIP() << "SKIPPED LOUDLY: /dev/fuse is not usable here";
    }
  }

  struct Env {
    TempDir dir;
    std::string repo, mnt;
    std::unique_ptr<BackgroundProcess> daemon;
    bool ntfs_extras = false;  // compressed and sparse NTFS files
    std::string backup_log;
  };
  static Env* env_;
};

MultiFsTest::Env* MultiFsTest::env_ = nullptr;

TEST_F(MultiFsTest, EveryFilesystemIsFoundNamedAndIndexed) {
  const auto result = nlohmann::json::parse(Slurp(env_->dir / "backup.json"));
  std::map<std::string, std::string> types;
  for (const auto& fs : result["filesystems"]) {
    EXPECT_EQ(fs["state"], "indexed") << fs.dump();
    types[fs["name"]] = fs["fstype"];
  }
  EXPECT_EQ(types,
            (std::map<std::string, std::string>{
                {"sda1", "vfat"}, {"sda2", "ntfs"}, {"vg0-root", "xfs"}}));
  std::set<std::string> listed;
  for (const auto& e :
       std::filesystem::directory_iterator(env_->mnt + "/multi/latest/files")) {
    listed.insert(e.path().filename());
  }
  EXPECT_EQ(listed, (std::set<std::string>{"sda1", "sda2", "vg0-root"}));
}

TEST_F(MultiFsTest, FilesReadBackThroughTheTree) {
  const std::string files = env_->mnt + "/multi/latest/files";
  EXPECT_EQ(Slurp(files + "/sda1/EFI/debian/grub.cfg"), "set timeout=5\n");
  EXPECT_EQ(Slurp(files + "/sda2/Users/Bob/My Documents/report.txt"),
            "quarterly report\n");
  EXPECT_EQ(Slurp(files + "/vg0-root/etc/hostname"), "xfs-guest\n");
  struct stat st {};
  ASSERT_EQ(::lstat((files + "/vg0-root/etc/hostname").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode, S_IFREG | 0600);
  std::error_code ec;
  EXPECT_EQ(
      std::filesystem::read_symlink(files + "/vg0-root/hostname-link", ec),
      "/etc/hostname");
}

TEST_F(MultiFsTest, PlainFilesAreMappedAndReadTheSame) {
  // Which files have an extent map, from the catalog.
  const auto rows = RunOrFail(
      "sqlite3 " + Quote(env_->repo + "/catalog.db") +
      " \"SELECT g.name || f.path, f.extents IS NOT NULL FROM guest_files f "
      "JOIN guest_filesystems g ON g.id = f.fs_id WHERE (f.mode & 61440) = "
      "32768\"");
  std::map<std::string, bool> mapped;
  std::istringstream lines(rows);
  for (std::string line; std::getline(lines, line);) {
    mapped[line.substr(0, line.rfind('|'))] = line.back() == '1';
  }
  // FIEMAP (XFS on LVM), FIBMAP (VFAT, NTFS through ntfs-3g).
  for (const char* f :
       {"sda1/big.bin", "sda1/EFI/debian/grub.cfg", "sda2/big.bin",
        "vg0-root/big.bin", "vg0-root/etc/hostname"}) {
    EXPECT_TRUE(mapped[f]) << f << "\n" << env_->backup_log;
  }
  // NTFS resident data: the appliance reads it.
  EXPECT_FALSE(mapped["sda2/Users/Bob/My Documents/report.txt"]);
  const std::string files = env_->mnt + "/multi/latest/files";
  const std::string big = Slurp(env_->dir / "big.bin");
  for (const char* fs : {"sda1", "sda2", "vg0-root"}) {
    EXPECT_EQ(Slurp(files + "/" + fs + "/big.bin"), big) << fs;
  }
  if (!env_->ntfs_extras) {
    GTEST_SKIP() << "SKIPPED LOUDLY: compressed and sparse NTFS files need "
                    "root (loop device, ntfs-3g)";
  }
  EXPECT_FALSE(mapped["sda2/Compressed/c.txt"]) << "compressed data";
  EXPECT_TRUE(mapped["sda2/sparse.bin"]) << "sparse data";
  std::string lines_expected;
  while (lines_expected.size() < 300000) {
    lines_expected += "compressible line\n";
  }
  lines_expected.resize(300000);
  EXPECT_EQ(Slurp(files + "/sda2/Compressed/c.txt"), lines_expected);
  std::string sparse(20 << 20, '\0');
  sparse.replace(15000000, 4, "tail");
  EXPECT_EQ(Slurp(files + "/sda2/sparse.bin"), sparse);
}

}  // namespace
}  // namespace sendense::test
