// The Samba share through a real smbd on loopback (a high port, a private
// configuration, the include `samba-config` writes) over a real mount of
// the tree, with smbclient and, for previous versions, impacket sending
// the SMB2 timewarp create context as Windows does.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "tests/support/mount_fixture.h"

namespace sendense::test {
namespace {

constexpr int kPort = 44591;
constexpr const char* kUser = "sendense-smb";
constexpr const char* kOutsider = "sendense-out";
constexpr const char* kPassword = "Backup-Pw1";

void Write(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

class SambaTest : public MountFixture {
 protected:
  void SetUp() override {
    MountFixture::SetUp();
    if (RunCommand("test -x /usr/sbin/smbd && test -f "
                   "/usr/lib/x86_64-linux-gnu/samba/vfs/shadow_copy2.so")
            .status != 0) {
      GTEST_SKIP() << "SKIPPED LOUDLY: smbd or samba-vfs-modules missing "
                      "(scripts/setup.sh installs them)";
    }
    if (::geteuid() != 0) {
      GTEST_SKIP() << "SKIPPED LOUDLY: smbd on a private port needs root";
    }
    smb_ = dir_ / "smb";
    for (const char* d : {"priv", "lock", "state", "cache", "run", "log"}) {
      std::filesystem::create_directories(smb_ + "/" + d);
    }
  }

  void TearDown() override {
    if (!smb_.empty()) {
      RunCommand("kill $(cat " + Quote(smb_ + "/run/smbd.pid") +
                 ") 2>/dev/null");
    }
    MountFixture::TearDown();
  }

  // A guest: an ext4 disk whose files are `root`, as the source.
  void MakeGuest(const std::string& root) {
    const std::string raw = dir_ / "guest.raw";
    RunOrFail("rm -f " + Quote(raw) + " && truncate -s 64M " + Quote(raw) +
              " && mkfs.ext4 -q -F -d " + Quote(root) + " " + Quote(raw));
    RunOrFail("rm -f " + Quote(source_) +
              " && qemu-img convert -f raw -O qcow2 " + Quote(raw) + " " +
              Quote(source_) + " && qemu-img bitmap --add " + Quote(source_) +
              " b0");
  }

  void Configure(const std::string& valid_users) {
    const std::string include = smb_ + "/sendense.conf";
    RunOrFail(std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) +
              " samba-config --mount " + Quote(mnt_) + " --output " +
              Quote(include) + " --valid-users " + valid_users);
    std::ofstream(smb_ + "/smb.conf")
        << "[global]\n  smb ports = " << kPort
        << "\n  interfaces = lo\n  bind interfaces only = yes\n"
        << "  private dir = " << smb_ << "/priv\n  lock directory = " << smb_
        << "/lock\n  state directory = " << smb_
        << "/state\n  cache directory = " << smb_
        << "/cache\n  pid directory = " << smb_
        << "/run\n  ncalrpc dir = " << smb_ << "/run/ncalrpc\n"
        << "  log file = " << smb_ << "/log/smbd.log\n"
        << "  passdb backend = tdbsam:" << smb_ << "/priv/passdb.tdb\n"
        << "  server role = standalone server\n  map to guest = never\n"
        << "  load printers = no\n  disable spoolss = yes\n"
        << "include = " << include << "\n";
  }

  void StartSmbd() {
    for (const char* user : {kUser, kOutsider}) {
      RunOrFail(std::string("id ") + user + " >/dev/null 2>&1 || useradd -M " +
                user);
      RunOrFail(std::string("printf '%s\\n%s\\n' ") + kPassword + " " +
                kPassword + " | smbpasswd -c " + Quote(smb_ + "/smb.conf") +
                " -s -a " + user + " >/dev/null");
    }
    RunOrFail("smbd -D -s " + Quote(smb_ + "/smb.conf"));
    // Ready when the port accepts: the pid file is written before smbd
    // listens, and a busy machine may take seconds in between.
    const bool listening = Eventually(
        [&] {
          return RunCommand("bash -c 'exec 3<>/dev/tcp/127.0.0.1/" +
                            std::to_string(kPort) + "' 2>/dev/null")
                     .status == 0;
        },
        60);
    ASSERT_TRUE(listening)
        << "smbd did not listen on port " << kPort << ":\n"
        << RunCommand("tail -n 40 " + Quote(smb_ + "/log/smbd.log")).output;
  }

  CommandResult Smb(const std::string& share,
                    const std::string& commands,
                    const std::string& user = kUser) {
    // -t: the first read of a point's guest file waits for an appliance
    // (10-20 s without KVM, more on a busy machine); smbclient's default
    // is 20 s.
    return RunCommand("smbclient -t 180 //127.0.0.1/" + share + " -p " +
                      std::to_string(kPort) + " -s " +
                      Quote(smb_ + "/smb.conf") + " -U " + user + "%" +
                      kPassword + " -c " + Quote(commands));
  }

  // Point names -> @GMT tokens from `allinfo`.
  std::vector<std::string> Versions(const std::string& share,
                                    const std::string& path) {
    const auto r = Smb(share, "allinfo " + path);
    std::vector<std::string> out;
    const std::regex gmt("@GMT-[0-9.]+-[0-9.]+");
    for (auto it = std::sregex_iterator(r.output.begin(), r.output.end(), gmt);
         it != std::sregex_iterator(); ++it) {
      out.push_back(it->str());
    }
    return out;
  }

  // "2026-11-24T09.00.00Z" -> "@GMT-2026.11.24-09.00.00"
  static std::string Gmt(const std::string& point) {
    std::string g = "@GMT-" + point.substr(0, 10) + "-" + point.substr(11, 8);
    std::replace(g.begin(), g.begin() + 15, '-', '.');
    g[4] = '-';
    return g;
  }

  // A local file for smbclient's get, in its own quoting.
  std::string Local(const std::string& name) {
    return "\"" + (dir_ / name) + "\"";
  }

  std::string smb_;
};

TEST_F(SambaTest, PreviousVersionsSafeLinksMappedNamesAndUsers) {
  const std::string g = dir_ / "guest";
  std::filesystem::create_directories(g + "/docs/sub");
  Write(g + "/motd", "version 1\n");
  Write(g + "/docs/a.txt", "alpha\n");
  Write(g + "/docs/sub/b.txt", std::string(300000, 'b'));
  Write(g + "/colon:name", "colon\n");
  Write(g + "/what?", "question\n");
  Write(g + "/dot.", "trailing dot\n");
  ::symlink("/etc/shadow", (g + "/shadow-link").c_str());
  ::symlink("../../..", (g + "/up").c_str());
  MakeGuest(g);
  const std::string p1 = TakeBackup("--full");
  Write(g + "/motd", "version 2, longer\n");
  MakeGuest(g);
  // Points of one second share a version token (one-second resolution):
  // the tree names a second one "<time>-2", which Samba cannot tell apart.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const std::string p2 = TakeBackup("--full");
  ASSERT_EQ(p1.size(), 20u) << p1;  // "2026-11-24T09.00.00Z", no suffix
  ASSERT_EQ(p2.size(), 20u) << p2;
  RunOrFail(std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) + " index");
  Mount();
  const auto listing = RunOrFail("ls " + Quote(mnt_ + "/vm1/latest/files"));
  const std::string fs = listing.substr(0, listing.find('\n'));
  ASSERT_FALSE(fs.empty()) << "no guest filesystem indexed";
  const std::string share = "vm1-" + fs;
  Configure(kUser);
  StartSmbd();

  // The share is the newest point.
  auto r = Smb(share, "ls");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("motd"), std::string::npos) << r.output;
  r = Smb(share, "get motd " + Local("now.txt"));
  EXPECT_EQ(RunOrFail("cat " + Quote(dir_ / "now.txt")), "version 2, longer\n");

  // One version per point; a previous version reads as it was, with the
  // timewarp context (as Windows sends it) and with smbclient's @GMT path.
  const auto versions = Versions(share, "motd");
  EXPECT_EQ(versions, (std::vector<std::string>{Gmt(p2), Gmt(p1)}));
  EXPECT_EQ(RunOrFail("/usr/bin/python3 " +
                      Quote(std::string(SENDENSE_SOURCE_DIR) +
                            "/tests/samba/twrp_get.py") +
                      " 127.0.0.1 " + std::to_string(kPort) + " " + kUser +
                      " " + kPassword + " " + share + " " + Gmt(p1) + "/motd"),
            "version 1\n");
  r = Smb(share, "get " + Gmt(p1) + "/motd " + Local("old.txt"));
  EXPECT_EQ(RunOrFail("cat " + Quote(dir_ / "old.txt")), "version 1\n")
      << r.output;

  // A recursive get of a folder equals the tree.
  const std::string got = dir_ / "got";
  std::filesystem::create_directories(got);
  r = Smb(share, "prompt off; recurse on; lcd " + got + "; mget docs");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(RunCommand("diff -r " + Quote(got + "/docs") + " " +
                       Quote(mnt_ + "/vm1/latest/files/" + fs + "/docs"))
                .status,
            0);

  // Guest symlinks never lead to host files.
  r = Smb(share, "get shadow-link " + Local("shadow.txt"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "shadow.txt") &&
               RunOrFail("cat " + Quote(dir_ / "shadow.txt")).find("root:") !=
                   std::string::npos)
      << "the host's /etc/shadow came through the share";
  r = Smb(share, "ls up/");
  EXPECT_EQ(r.output.find("vmlinuz"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("etc"), std::string::npos) << r.output;

  // Names Windows cannot show are reachable under their mapped names.
  r = Smb(share, "get \"colon\xc3\xb7name\" " + Local("c.txt"));
  EXPECT_EQ(RunOrFail("cat " + Quote(dir_ / "c.txt")), "colon\n") << r.output;
  r = Smb(share, "get \"what\xc2\xbf\" " + Local("q.txt"));
  EXPECT_EQ(RunOrFail("cat " + Quote(dir_ / "q.txt")), "question\n")
      << r.output;
  r = Smb(share, "ls");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex("  (D[^ ]*~[^ ]*)  ")))
      << "no mangled name for 'dot.': " << r.output;
  r = Smb(share, "get " + m[1].str() + " " + Local("d.txt"));
  EXPECT_EQ(RunOrFail("cat " + Quote(dir_ / "d.txt")), "trailing dot\n")
      << r.output;

  // A new backup is a new version while smbd keeps running.
  Write(g + "/motd", "version 3\n");
  MakeGuest(g);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const std::string p3 = TakeBackup("--full");
  RunOrFail(std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) + " index");
  EXPECT_TRUE(Eventually([&] { return Versions(share, "motd").size() == 3; }))
      << Smb(share, "allinfo motd").output;
  r = Smb(share, "get motd " + Local("now3.txt"));
  EXPECT_EQ(RunOrFail("cat " + Quote(dir_ / "now3.txt")), "version 3\n");

  // A pruned point is no longer a version.
  RunOrFail(std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) +
            " forget --vm vm1 " + p1);
  EXPECT_TRUE(Eventually([&] {
    return Versions(share, "motd") ==
           std::vector<std::string>{Gmt(p3), Gmt(p2)};
  })) << Smb(share, "allinfo motd").output;

  // Not in valid users: refused.
  r = Smb(share, "ls", kOutsider);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("NT_STATUS_ACCESS_DENIED"), std::string::npos)
      << r.output;
  Unmount();
}

}  // namespace
}  // namespace sendense::test
