// Guest files through the real engine: a partitioned ext4 disk built by
// mkfs.ext4 -d (with hostile content), backed up over qemu-nbd, indexed in
// a real libguestfs appliance, mounted, and compared with the files that
// went in. Appliances are slow to start without KVM, so the whole suite
// shares one repository and one mount.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/support/mount_fixture.h"
#include "tests/support/process.h"
#include "tests/support/test_env.h"

namespace sendense::test {
namespace {

const std::string kNewline = "new\nline";
const std::string kNotUtf8 = "caf\xe9";
const std::string kLongName(255, 'n');
constexpr int kManyEntries = 100000;

void Write(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

// The guest's files, as the test made them.
void MakeGuestTree(const std::string& root, const std::string& motd) {
  std::filesystem::create_directories(root + "/etc/nginx");
  std::filesystem::create_directories(root + "/home/alice/docs");
  std::filesystem::create_directories(root + "/names");
  Write(root + "/etc/motd", motd);
  Write(root + "/etc/nginx/nginx.conf", "worker_processes 2;\n");
  Write(root + "/home/alice/docs/notes.txt", "alice's notes\n");
  ::chown((root + "/home/alice/docs/notes.txt").c_str(), 1234, 5678);
  ::chmod((root + "/home/alice/docs/notes.txt").c_str(), 0640);
  std::mt19937_64 rng(7);
  const auto random = RandomBytes(rng, 3 << 20);
  WriteFile(root + "/home/alice/random.bin", random);
  ::link((root + "/home/alice/random.bin").c_str(),
         (root + "/home/alice/hardlink.bin").c_str());
  ::symlink("/etc/shadow", (root + "/home/alice/shadow-link").c_str());
  ::symlink("../../..", (root + "/home/alice/up").c_str());
  ::mknod((root + "/home/alice/null").c_str(), S_IFCHR | 0666, makedev(1, 3));
  ::mkfifo((root + "/home/alice/fifo").c_str(), 0600);
  Write(root + "/names/" + kNewline, "newline\n");
  Write(root + "/names/" + kNotUtf8, "latin-1\n");
  Write(root + "/names/" + kLongName, "long\n");
  // A huge sparse file: 8 GiB, 4 bytes at the end.
  {
    const int fd =
        ::open((root + "/sparse.img").c_str(), O_CREAT | O_WRONLY, 0644);
    ::pwrite(fd, "tail", 4, (uint64_t{8} << 30) - 4);
    ::close(fd);
  }
}

// Adds many/ with kManyEntries empty files to the ext4 partition of `raw`
// through a loop mount: mkfs.ext4 -d inserts entries one by one into an
// unindexed folder (5 minutes for 100,000), the kernel takes 2 seconds.
void AddManyEntries(const TempDir& dir, const std::string& raw) {
  const std::string mnt = dir / "loop";
  std::filesystem::create_directories(mnt);
  RunOrFail("mount -o loop,offset=1048576 " + Quote(raw) + " " + Quote(mnt));
  std::filesystem::create_directories(mnt + "/many");
  for (int i = 0; i < kManyEntries; ++i) {
    const int fd = ::open((mnt + "/many/f" + std::to_string(i)).c_str(),
                          O_CREAT | O_WRONLY, 0644);
    ::close(fd);
  }
  RunOrFail("umount " + Quote(mnt));
}

// A 512 MiB MBR disk with an ext4 partition holding `root`, as qcow2.
void MakeDisk(const TempDir& dir,
              const std::string& root,
              const std::string& qcow2,
              bool many) {
  const std::string raw = dir / "disk.raw";
  RunOrFail("truncate -s 512M " + Quote(raw));
  RunOrFail("echo 'start=2048, type=83' | sfdisk -q " + Quote(raw));
  RunOrFail("mkfs.ext4 -q -F -N 120000 -d " + Quote(root) +
            " -E offset=1048576 " + Quote(raw) + " 511M");
  if (many) {
    AddManyEntries(dir, raw);
  }
  RunOrFail("qemu-img convert -f raw -O qcow2 " + Quote(raw) + " " +
            Quote(qcow2));
  std::filesystem::remove(raw);
}

class GuestFilesTest : public testing::Test {
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
    RunOrFail(Sendense("init"));
    // Two points of VM web1, the second with a changed motd.
    MakeGuestTree(e.dir / "guest1", "version 1\n");
    MakeDisk(e.dir, e.dir / "guest1", e.dir / "v1.qcow2", /*many=*/true);
    std::filesystem::create_directories(e.dir / "guest2");
    RunOrFail("cp -a " + Quote(e.dir / "guest1") + "/. " +
              Quote(e.dir / "guest2"));
    Write(e.dir / "guest2/etc/motd", "version 2, longer\n");
    MakeDisk(e.dir, e.dir / "guest2", e.dir / "v2.qcow2", /*many=*/false);
    // A disk with a corrupt superblock: its filesystem fails, alone.
    RunOrFail("truncate -s 64M " + Quote(e.dir / "bad.raw"));
    RunOrFail("mkfs.ext4 -q -F " + Quote(e.dir / "bad.raw"));
    RunOrFail("dd if=/dev/urandom of=" + Quote(e.dir / "bad.raw") +
              " bs=1024 seek=1 count=4 conv=notrunc status=none");
    RunOrFail("qemu-img convert -f raw -O qcow2 " + Quote(e.dir / "bad.raw") +
              " " + Quote(e.dir / "bad.qcow2"));
    // Bitmaps that stay empty: the third backup changes nothing.
    for (const char* image : {"v2.qcow2", "bad.qcow2"}) {
      RunOrFail("qemu-img bitmap --add " + Quote(e.dir / image) + " b0");
    }
    for (const char* image : {"v1.qcow2", "v2.qcow2"}) {
      NbdServer a(e.dir.path(),
                  "qemu-nbd -r -f qcow2 -t -k {sock} " + Quote(e.dir / image));
      NbdServer b(e.dir.path(), "qemu-nbd -r -f qcow2 -t -k {sock} " +
                                    Quote(e.dir / "bad.qcow2"));
      const auto r = RunCommand(std::string(SENDENSE_BINARY) + " -r " +
                                Quote(e.repo) + " backup --vm web1 --full " +
                                "--json --disk sda=" + Quote(a.uri()) +
                                " --disk sdb=" + Quote(b.uri()) + " 2>&1");
      EXPECT_EQ(r.status, 0) << r.output;
      e.backup_output += r.output;
      ::sleep(1);  // distinct point names
    }
    {
      NbdServer a(e.dir.path(), "qemu-nbd -r -f qcow2 -t -B b0 -k {sock} " +
                                    Quote(e.dir / "v2.qcow2"));
      NbdServer b(e.dir.path(), "qemu-nbd -r -f qcow2 -t -B b0 -k {sock} " +
                                    Quote(e.dir / "bad.qcow2"));
      const auto r = RunCommand(std::string(SENDENSE_BINARY) + " -r " +
                                Quote(e.repo) + " backup --vm web1 --json " +
                                "--bitmap b0 --disk sda=" + Quote(a.uri()) +
                                " --disk sdb=" + Quote(b.uri()));
      EXPECT_EQ(r.status, 0) << r.output;
      e.unchanged = nlohmann::json::parse(r.output, nullptr, false);
    }
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

  static std::string Sendense(const std::string& args) {
    return std::string(SENDENSE_BINARY) + " -r " + Quote(env_->repo) + " " +
           args;
  }
  static std::vector<std::string> Points() {
    std::vector<std::string> names;
    for (const auto& e :
         std::filesystem::directory_iterator(env_->mnt + "/web1")) {
      if (e.path().filename() != "latest") {
        names.push_back(e.path().filename());
      }
    }
    std::sort(names.begin(), names.end());
    return names;
  }
  static std::string Fs(int point) {
    return env_->mnt + "/web1/" + Points()[point] + "/files/sda1";
  }

  struct Env {
    TempDir dir;
    std::string repo, mnt, backup_output;
    nlohmann::json unchanged;  // the third backup, in which nothing changed
    std::unique_ptr<BackgroundProcess> daemon;
  };
  static Env* env_;
};

GuestFilesTest::Env* GuestFilesTest::env_ = nullptr;

TEST_F(GuestFilesTest, RsyncFromTheTreeReproducesTheGuestExactly) {
  // Content, modes, owners, times, symlinks, hard links, devices: rsync
  // compares all of them (checksums for content) and finds nothing to do.
  const auto out = RunOrFail(
      "rsync -aHAX --checksum --dry-run --itemize-changes --exclude=/many "
      "--exclude=/sparse.img --exclude=/lost+found " +
      Quote(Fs(1) + "/") + " " + Quote(env_->dir / "guest2/") +
      " | grep -vxF '.d..t...... ./' || true");
  // (mkfs.ext4 -d does not copy the times of the source folder itself,
  // so the root's mtime may differ; everything under it must not.)
  EXPECT_EQ(out, "") << out;
  // And the tree really holds the data (the dry run would also be empty
  // if rsync copied nothing because both sides were empty).
  RunOrFail("cmp " + Quote(Fs(1) + "/home/alice/random.bin") + " " +
            Quote(env_->dir / "guest2/home/alice/random.bin"));
}

TEST_F(GuestFilesTest, AttributesLinksAndNodesAsInTheGuest) {
  struct stat st {};
  ASSERT_EQ(::lstat((Fs(1) + "/home/alice/docs/notes.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  EXPECT_EQ(st.st_mode, S_IFREG | 0640);
  // Symlinks are links with their target untouched.
  std::error_code ec;
  EXPECT_EQ(
      std::filesystem::read_symlink(Fs(1) + "/home/alice/shadow-link", ec),
      "/etc/shadow");
  EXPECT_EQ(std::filesystem::read_symlink(Fs(1) + "/home/alice/up", ec),
            "../../..");
  // Hard links share an inode.
  struct stat a {
  }, b{};
  ASSERT_EQ(::stat((Fs(1) + "/home/alice/random.bin").c_str(), &a), 0);
  ASSERT_EQ(::stat((Fs(1) + "/home/alice/hardlink.bin").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_nlink, 2u);
  // Device nodes and fifos are shown, not opened.
  ASSERT_EQ(::lstat((Fs(1) + "/home/alice/null").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
  EXPECT_EQ(::open((Fs(1) + "/home/alice/null").c_str(), O_RDONLY), -1);
  ASSERT_EQ(::lstat((Fs(1) + "/home/alice/fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  // Writes are refused.
  EXPECT_EQ(::open((Fs(1) + "/etc/motd").c_str(), O_WRONLY), -1);
  EXPECT_EQ(errno, EROFS);
}

TEST_F(GuestFilesTest, HostileNamesAndHugeFoldersAndFiles) {
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(Fs(0) + "/names")) {
    names.insert(e.path().filename());
  }
  EXPECT_EQ(names, (std::set<std::string>{kNewline, kNotUtf8, kLongName}));
  std::ifstream in(Fs(0) + "/names/" + kNewline);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "newline");

  size_t count = 0;
  for (const auto& e : std::filesystem::directory_iterator(Fs(0) + "/many")) {
    (void)e;
    ++count;
  }
  EXPECT_EQ(count, static_cast<size_t>(kManyEntries));

  struct stat st {};
  ASSERT_EQ(::stat((Fs(0) + "/sparse.img").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, int64_t{8} << 30);
  const int fd = ::open((Fs(0) + "/sparse.img").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  char tail[4];
  EXPECT_EQ(::pread(fd, tail, 4, (int64_t{8} << 30) - 4), 4);
  EXPECT_EQ(std::string(tail, 4), "tail");
  ::close(fd);
}

TEST_F(GuestFilesTest, CorruptFilesystemFailsAloneAndIsReported) {
  // sdb's superblock is garbage: not shown, reported; sda1 is fine.
  const auto listed =
      std::filesystem::directory_iterator(env_->mnt + "/web1/latest/files");
  std::set<std::string> fss;
  for (const auto& e : listed) {
    fss.insert(e.path().filename());
  }
  EXPECT_EQ(fss, std::set<std::string>{"sda1"});
  std::ifstream in(Fs(1) + "/etc/motd");
  std::string motd;
  std::getline(in, motd);
  EXPECT_EQ(motd, "version 2, longer");
}

// A backup in which no block changed takes the index of the one before it
// instead of starting an appliance (10-20 s here) to find the same files.
TEST_F(GuestFilesTest, ABackupThatChangedNothingReusesTheIndex) {
  const auto& r = env_->unchanged;
  ASSERT_TRUE(r.is_object()) << "the third backup printed no JSON";
  ASSERT_EQ(r["points"].size(), 2u) << r.dump();
  for (const auto& p : r["points"]) {
    EXPECT_EQ(p["kind"], "incremental") << p.dump();
    EXPECT_EQ(p["bytes_read"], 0) << p.dump();
  }
  EXPECT_LT(r["index_seconds"].get<double>(), 3.0) << r.dump();
  std::set<std::string> fss;
  for (const auto& f : r["filesystems"]) {
    fss.insert(f["name"].get<std::string>() + ":" +
               f["state"].get<std::string>());
  }
  EXPECT_EQ(fss, std::set<std::string>{"sda1:indexed"}) << r.dump();
  ASSERT_EQ(Points().size(), 3u);
  std::ifstream in(Fs(2) + "/etc/motd");
  std::string motd;
  std::getline(in, motd);
  EXPECT_EQ(motd, "version 2, longer");
  RunOrFail("cmp " + Quote(Fs(2) + "/home/alice/random.bin") + " " +
            Quote(env_->dir / "guest2/home/alice/random.bin"));
}

TEST_F(GuestFilesTest, FindAndHistoryFromTheIndex) {
  const auto found = nlohmann::json::parse(
      RunOrFail(Sendense("find --vm web1 nginx.conf --json")));
  ASSERT_EQ(found["matches"].size(), 3u);  // in every point
  EXPECT_EQ(found["matches"][0]["path"], "/etc/nginx/nginx.conf");
  EXPECT_EQ(found["matches"][0]["size"], 20);
  // The tree path of a hit opens in the mount.
  std::ifstream conf(env_->mnt + "/" +
                     found["matches"][1]["tree_path"].get<std::string>());
  EXPECT_TRUE(conf.good());

  const auto history = nlohmann::json::parse(
      RunOrFail(Sendense("history --vm web1 /etc/motd --json")));
  ASSERT_EQ(history["versions"].size(), 3u);
  EXPECT_EQ(history["versions"][0]["size"], 10);
  EXPECT_EQ(history["versions"][1]["size"], 18);
  EXPECT_TRUE(history["versions"][1]["changed"].get<bool>());
  EXPECT_FALSE(history["versions"][2]["changed"].get<bool>());
  const auto same = nlohmann::json::parse(
      RunOrFail(Sendense("history --vm web1 /etc/nginx/nginx.conf --json")));
  ASSERT_EQ(same["versions"].size(), 3u);
  EXPECT_FALSE(same["versions"][1]["changed"].get<bool>());

  const auto bad = RunCommand(Sendense("history --vm web1 etc/motd"));
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("must be absolute"), std::string::npos);
}

}  // namespace
}  // namespace sendense::test
