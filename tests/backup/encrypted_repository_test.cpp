// An encrypted repository through the real binary: init --encrypt makes
// and prints the key; a full and an incremental are stored as LUKS QCOW2
// (no plaintext block in the files), restore and qemu-img (with the key
// file as its secret) give back the source; without the key, verify still
// proves the stored clusters and restore refuses in one sentence; a prune
// merges (re-encrypting) and what stays still equals the source; a copy to
// a second repository moves ciphertext.

#include <sys/stat.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

#include "tests/support/backup_fixture.h"

namespace sendense::test {
namespace {

// A 64 KiB block of text that cannot be missed in a file.
constexpr char kMarker[] = "SENDENSE-CLEARTEXT-MARKER-";

class EncryptedRepositoryTest : public BackupFixture {
 protected:
  void SetUp() override {
    BackupFixture::SetUp();
    std::filesystem::remove_all(repo_);
    key_ = dir_ / "keys/backups.key";
    std::filesystem::create_directories(dir_ / "keys");
    const auto r = Sendense("init --encrypt --key-file " + Quote(key_));
    ASSERT_EQ(r.status, 0) << r.output;
    init_output_ = r.output;
  }

  std::string Point(const std::string& backup) const {
    return repo_ + "/vms/vm1/sda/" + backup + ".qcow2";
  }

  // qemu-img's view of a chain of `depth` encrypted layers.
  std::string QemuOpts(const std::string& point, int depth) const {
    std::string opts = "driver=qcow2,file.filename=" + point;
    std::string layer;
    for (int i = 0; i < depth; ++i) {
      opts += "," + layer + "encrypt.key-secret=k";
      layer += "backing.";
    }
    return "--object secret,id=k,file=" + key_ + " --image-opts " + Quote(opts);
  }

  bool HasMarker(const std::string& path) const {
    return RunCommand("grep -c " + Quote(kMarker) + " " + Quote(path)).status ==
           0;
  }

  std::string key_;
  std::string init_output_;
};

TEST_F(EncryptedRepositoryTest, PointsAreLuksThatQemuReadsAndPruneKeepsThem) {
  // The key: made, private, printed once.
  struct stat st {};
  ASSERT_EQ(::stat(key_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 64);
  EXPECT_NE(init_output_.find("Recovery key"), std::string::npos);
  EXPECT_NE(init_output_.find(Slurp(key_)), std::string::npos);

  MakeSource();
  std::string text;
  while (text.size() < 65536) {
    text += kMarker;
  }
  WriteText(dir_ / "marker", text.substr(0, 65536));
  ChangeSource("-c 'write -s " + dir_ / "marker" + " 8M 64k'");
  const std::string p1 = Backup();
  const std::string s1 = SnapshotSource("s1");
  ChangeSource("-c 'write -q -P 0x5a 2M 256k' -c 'write -s " + dir_ / "marker" +
               " 40M 64k'");
  const std::string p2 = Backup();
  const std::string s2 = SnapshotSource("s2");
  const std::string p3 = [&] {
    ChangeSource("-c 'write -q -P 0x6b 30M 64k'");
    return Backup();
  }();
  const std::string s3 = SnapshotSource("s3");
  ASSERT_TRUE(HasMarker(s1));

  // LUKS files with no cleartext in them, read by qemu with the key file.
  for (const auto& p : {p1, p2, p3}) {
    EXPECT_FALSE(HasMarker(Point(p))) << p;
    EXPECT_NE(RunOrFail("qemu-img info --output=json " + Quote(Point(p)))
                  .find("\"format\": \"luks\""),
              std::string::npos);
  }
  RunOrFail("qemu-img compare " + QemuOpts(Point(p2), 2) +
            " driver=raw,file.filename=" + Quote(s2));
  RunOrFail("qemu-img check " + QemuOpts(Point(p3), 3));

  // Restore decrypts.
  RunOrFail(std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) +
            " restore --vm vm1 --point " + p2 + " --to " +
            Quote(dir_ / "r2.raw"));
  RunOrFail("cmp " + Quote(dir_ / "r2.raw") + " " + Quote(s2));

  // Without the key: verify proves what is stored; restore and backup
  // refuse in one sentence, nothing written.
  const std::string no_key =
      "SENDENSE_KEY_FILE=" + Quote(dir_ / "absent.key") + " ";
  const std::string binary =
      std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) + " ";
  auto r = RunCommand(no_key + binary + "verify");
  EXPECT_EQ(r.status, 0) << r.output;
  r = RunCommand(no_key + binary + "restore --vm vm1 --point " + p2 + " --to " +
                 Quote(dir_ / "nokey.raw"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("this repository's points are encrypted and its key "
                          "is missing: cannot read the key file"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "nokey.raw"));
  // A wrong key: one sentence, never wrong bytes.
  WriteText(dir_ / "wrong.key", std::string(64, 'f'));
  RunOrFail("chmod 600 " + Quote(dir_ / "wrong.key"));
  r = RunCommand("SENDENSE_KEY_FILE=" + Quote(dir_ / "wrong.key") + " " +
                 binary + "restore --vm vm1 --point " + p2 + " --to " +
                 Quote(dir_ / "wrong.raw"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("is encrypted with another key"), std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "wrong.raw"));

  // Exports of the 3-point chain: qemu-nbd opens each encrypted layer with the
  // key file as its secret; writes to a writable export land in its (plain)
  // overlay.
  const auto ro = SendenseJson("export --vm vm1 --json");
  RunOrFail("nbdcopy " + Quote(ro["uri"].get<std::string>()) + " " +
            Quote(dir_ / "e3.raw"));
  RunOrFail("cmp " + Quote(dir_ / "e3.raw") + " " + Quote(s3));
  const auto rw = SendenseJson("export --vm vm1 --writable --json");
  const std::string uri = rw["uri"];
  RunOrFail("qemu-io -f raw -c 'write -q -P 0x77 1M 64k' " + Quote(uri));
  RunOrFail("qemu-io -f raw -c 'read -q -P 0x77 1M 64k' " + Quote(uri));
  for (const auto& e : {ro, rw}) {
    ASSERT_EQ(Sendense("unexport " + std::to_string(e["id"].get<int>())).status,
              0);
  }
  r = RunCommand(no_key + binary + "export --vm vm1");
  EXPECT_NE(r.output.find("this repository's points are encrypted and its "
                          "key is missing"),
            std::string::npos)
      << r.output;

  // Forget the full and the middle: merged and re-encrypted into p3,
  // which still reads as the source did, for Sendense and for qemu.
  r = Sendense("forget --vm vm1 " + p1 + " " + p2);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(HasMarker(Point(p3)));
  RunOrFail("qemu-img check " + QemuOpts(Point(p3), 1));
  RunOrFail("qemu-img compare " + QemuOpts(Point(p3), 1) +
            " driver=raw,file.filename=" + Quote(s3));
  r = Sendense("verify");
  EXPECT_EQ(r.status, 0) << r.output;
  RunOrFail(binary + "restore --vm vm1 --point " + p3 + " --to " +
            Quote(dir_ / "r3.raw"));
  RunOrFail("cmp " + Quote(dir_ / "r3.raw") + " " + Quote(s3));

  // A copy moves ciphertext: the second repository has the same files.
  const std::string second = dir_ / "second";
  RunOrFail(std::string(SENDENSE_BINARY) + " -r " + Quote(second) +
            " init --encrypt --key-file " + Quote(key_));
  r = Sendense("copy --to " + Quote(second));
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string copied = second + "/vms/vm1/sda/" + p3 + ".qcow2";
  RunOrFail("cmp " + Quote(copied) + " " + Quote(Point(p3)));
  RunOrFail(std::string(SENDENSE_BINARY) + " -r " + Quote(second) +
            " restore --vm vm1 --to " + Quote(dir_ / "c3.raw"));
  RunOrFail("cmp " + Quote(dir_ / "c3.raw") + " " + Quote(s3));
}

// Keys change in the points' LUKS slots, no data re-encrypted: a new key
// opens every point for Sendense and qemu, the old one no longer does, and
// the key the repository reads with cannot be removed.
TEST_F(EncryptedRepositoryTest, KeysAreAddedAndRemovedInTheSlots) {
  MakeSource();
  const std::string p1 = Backup();
  ChangeSource("-c 'write -q -P 0x3c 5M 128k'");
  const std::string p2 = Backup();
  const std::string s2 = SnapshotSource("s2");
  const auto data_before =
      RunOrFail("tail -c 1048576 " + Quote(Point(p2)) + " | md5sum");
  const std::string old_key = key_;
  const std::string new_key = dir_ / "keys/new.key";
  auto r = Sendense("key add --key-file " + Quote(new_key) + " --use");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("Added the key to 2 of 2 encrypted points"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("shown once"), std::string::npos) << r.output;
  // Again: nothing to add.
  r = Sendense("key add --key-file " + Quote(new_key));
  EXPECT_NE(r.output.find("Added the key to 0 of 2"), std::string::npos)
      << r.output;
  // The key the repository reads with stays.
  r = Sendense("key rm --key-file " + Quote(new_key));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("the points of the repository are read with that "
                          "key"),
            std::string::npos)
      << r.output;
  r = Sendense("key rm --key-file " + Quote(old_key));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("Removed the key from 2 of 2"), std::string::npos)
      << r.output;

  // The data did not move; the new key reads it everywhere, the old none.
  EXPECT_EQ(RunOrFail("tail -c 1048576 " + Quote(Point(p2)) + " | md5sum"),
            data_before);
  key_ = new_key;
  RunOrFail("qemu-img compare " + QemuOpts(Point(p2), 2) +
            " driver=raw,file.filename=" + Quote(s2));
  key_ = old_key;
  EXPECT_NE(RunCommand("qemu-img compare " + QemuOpts(Point(p2), 2) +
                       " driver=raw,file.filename=" + Quote(s2))
                .status,
            0);
  RunOrFail(std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) +
            " restore --vm vm1 --to " + Quote(dir_ / "r2.raw"));
  RunOrFail("cmp " + Quote(dir_ / "r2.raw") + " " + Quote(s2));
  // New points take the new key too.
  ChangeSource("-c 'write -q -P 0x4d 9M 64k'");
  const std::string p3 = Backup();
  key_ = new_key;
  RunOrFail("qemu-img check " + QemuOpts(Point(p3), 3));
  EXPECT_FALSE(p1.empty());
}

TEST_F(EncryptedRepositoryTest, KeyFilesAreCheckedBeforeTheRepositoryIsMade) {
  const auto init = [&](const std::string& repo, const std::string& args) {
    return RunCommand(std::string(SENDENSE_BINARY) + " -r " + Quote(repo) +
                      " init " + args);
  };
  WriteText(dir_ / "short.key", "hunter2");
  RunOrFail("chmod 600 " + Quote(dir_ / "short.key"));
  auto r =
      init(dir_ / "a", "--encrypt --key-file " + Quote(dir_ / "short.key"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("holds 7 bytes; a key is at least 32 random bytes"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "a/catalog.db"));
  WriteText(dir_ / "open.key", std::string(64, 'a'));
  RunOrFail("chmod 644 " + Quote(dir_ / "open.key"));
  r = init(dir_ / "b", "--encrypt --key-file " + Quote(dir_ / "open.key"));
  EXPECT_NE(r.output.find("can be read by others: chmod 600 it"),
            std::string::npos)
      << r.output;
  r = init(dir_ / "c", "--encrypt --key-file " + Quote(dir_ / "c/k"));
  EXPECT_NE(r.output.find("the key file must live outside the repository"),
            std::string::npos)
      << r.output;
  r = init(dir_ / "d", "--encrypt");
  EXPECT_NE(r.output.find("--encrypt needs --key-file FILE"), std::string::npos)
      << r.output;
}

// A tenant's and a VM's own keys: the points they had get the new key,
// later points are written with it alone, and once the repository's key is
// removed from them, only their key reads them; the other VMs keep the
// repository's key. key list tells which keys open what; key export
// --paper prints a key that types back into the same file.
TEST_F(EncryptedRepositoryTest, TenantsAndVmsHaveKeysOfTheirOwn) {
  MakeSource();
  ASSERT_EQ(Sendense("tenant add acme").status, 0);
  const auto tenant_backup = [&] {
    NbdServer server(dir_.path(), QemuNbdCommand(source_, "b0"));
    const auto out = RunOrFail(
        std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) +
        " backup --no-index --vm web1@acme --bitmap b0 --json --disk sda=" +
        Quote(server.uri()));
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    return nlohmann::json::parse(out)["name"].get<std::string>();
  };
  const auto tenant_point = [&](const std::string& b) {
    return repo_ + "/vms/web1@acme/sda/" + b + ".qcow2";
  };
  const std::string p1 = Backup();
  const std::string t1 = tenant_backup();
  const std::string repo_key = key_;
  const std::string acme_key = dir_ / "keys/acme.key";
  auto r = Sendense("key set --tenant acme --key-file " + Quote(acme_key));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("Added the key to 1 of 1 encrypted point"),
            std::string::npos)
      << r.output;
  ChangeSource("-c 'write -q -P 0x5e 3M 64k'");
  const std::string t2 = tenant_backup();
  const std::string s2 = SnapshotSource("s2");
  r = Sendense("key rm --tenant acme --key-file " + Quote(repo_key));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("Removed the key from 1 of 2"), std::string::npos)
      << r.output;

  // Only acme's key reads acme's chain; the repository's reads vm1's.
  key_ = acme_key;
  RunOrFail("qemu-img compare " + QemuOpts(tenant_point(t2), 2) +
            " driver=raw,file.filename=" + Quote(s2));
  EXPECT_NE(RunCommand("qemu-img check " + QemuOpts(Point(p1), 1)).status, 0);
  key_ = repo_key;
  EXPECT_NE(
      RunCommand("qemu-img check " + QemuOpts(tenant_point(t1), 1)).status, 0);
  RunOrFail("qemu-img check " + QemuOpts(Point(p1), 1));
  RunOrFail(std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) +
            " restore --vm web1@acme --to " + Quote(dir_ / "t2.raw"));
  RunOrFail("cmp " + Quote(dir_ / "t2.raw") + " " + Quote(s2));

  const auto listed = SendenseJson("key list --tenant acme --json --key-file " +
                                   Quote(repo_key));
  EXPECT_EQ(listed["scope"], "tenant acme") << listed.dump();
  EXPECT_EQ(listed["points"], 2) << listed.dump();
  ASSERT_EQ(listed["keys"].size(), 2u) << listed.dump();
  EXPECT_EQ(listed["keys"][0]["file"], acme_key) << listed.dump();
  EXPECT_EQ(listed["keys"][0]["in_use"], true) << listed.dump();
  EXPECT_EQ(listed["keys"][0]["opens"], 2) << listed.dump();
  EXPECT_EQ(listed["keys"][1]["opens"], 0) << listed.dump();
  EXPECT_EQ(listed["other_slots"], 0) << listed.dump();
  const auto whole = SendenseJson("key list --json");
  EXPECT_EQ(whole["points"], 1) << "vm1 alone: " << whole.dump();

  // A VM's own key, in the same way.
  const std::string vm_key = dir_ / "keys/vm1.key";
  r = Sendense("key set --vm vm1 --key-file " + Quote(vm_key));
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string p2 = Backup();
  key_ = vm_key;
  RunOrFail("qemu-img check " + QemuOpts(Point(p2), 2));

  // The paper key types back into the key file.
  r = Sendense("key export --paper --tenant acme");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string acme = Slurp(acme_key);
  std::string first_line;
  for (size_t i = 0; i < 32; i += 4) {
    first_line += (i ? " " : "") + acme.substr(i, 4);
  }
  EXPECT_NE(r.output.find("  1  " + first_line + "   check " +
                          RunOrFail("printf '%s' " + acme.substr(0, 32) +
                                    " | sha256sum | cut -c1-4")
                              .substr(0, 4)),
            std::string::npos)
      << r.output;

  r = Sendense("key set --tenant nosuch --key-file " + Quote(acme_key));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("no tenant named 'nosuch'"), std::string::npos)
      << r.output;
  r = Sendense("key set --key-file " + Quote(acme_key));
  EXPECT_NE(r.output.find("key set needs --tenant T or --vm V"),
            std::string::npos)
      << r.output;
}

// A repository whose key is derived from a passphrase: commands on a
// terminal ask for it (here through script(1)'s pseudo-terminal), others
// refuse in one sentence; the paper key it prints is the key qemu-img
// reads the points with; a wrong passphrase is one sentence. And a
// key-file repository whose file is lost reads with its recovery key
// typed at the prompt. Typed keys leave nothing behind.
TEST_F(EncryptedRepositoryTest, APassphraseIsAskedOnTheTerminal) {
  const auto on_terminal = [&](const std::string& args,
                               const std::string& typed) {
    return RunCommand("printf '%s\\n' " + Quote(typed) + " | script -qec " +
                      Quote(std::string(SENDENSE_BINARY) + " -r " +
                            Quote(repo_) + " " + args) +
                      " /dev/null");
  };
  const std::string passphrase = "correct horse battery staple";
  std::filesystem::remove_all(repo_);
  auto r = RunCommand("echo too-short | " + std::string(SENDENSE_BINARY) +
                      " -r " + Quote(repo_) + " init --encrypt --passphrase");
  EXPECT_NE(r.output.find("a passphrase has at least 12 characters"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(repo_ + "/catalog.db"));
  RunOrFail("echo " + Quote(passphrase) + " | " + std::string(SENDENSE_BINARY) +
            " -r " + Quote(repo_) + " init --encrypt --passphrase");

  MakeSource();
  const auto backup = [&](const std::string& typed) {
    NbdServer server(dir_.path(), QemuNbdCommand(source_, "b0"));
    const auto done =
        typed.empty() ? Sendense(BackupArgs(server, "--bitmap b0"))
                      : on_terminal(BackupArgs(server, "--bitmap b0"), typed);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    return done;
  };
  r = backup("");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("its key is derived from a passphrase: run the "
                          "command on a terminal"),
            std::string::npos)
      << r.output;
  r = backup(passphrase);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("Passphrase of "), std::string::npos) << r.output;
  ChangeSource("-c 'write -q -P 0x6b 7M 64k'");
  r = backup(passphrase);
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string s2 = SnapshotSource("s2");
  const auto listed = SendenseJson("list --vm vm1 --json")["vms"][0]["backups"];
  ASSERT_GE(listed.size(), 2u);
  const auto& last = listed[listed.size() - 1];
  const std::string p2 = last["name"];
  EXPECT_EQ(last["state"], "complete") << listed.dump();
  EXPECT_EQ(last["points"][0]["kind"], "incremental") << listed.dump();

  // The paper key, typed back, is the key qemu-img reads them with.
  r = on_terminal("key export --paper", passphrase);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("none (typed at the prompt)"), std::string::npos)
      << r.output;
  std::string key;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > 44 && line.find("   check ") != std::string::npos &&
        std::isdigit(static_cast<unsigned char>(line[2]))) {
      for (char c : line.substr(5, 39)) {
        if (c != ' ' && c != '\r') {
          key += c;
        }
      }
    }
  }
  ASSERT_EQ(key.size(), 64u) << r.output;
  key_ = dir_ / "keys/typed-back.key";
  WriteText(key_, key);
  RunOrFail("chmod 600 " + Quote(key_));
  RunOrFail("qemu-img compare " + QemuOpts(Point(p2), 2) +
            " driver=raw,file.filename=" + Quote(s2));

  r = on_terminal("restore --vm vm1 --to " + Quote(dir_ / "w.raw"),
                  "not the passphrase at all");
  EXPECT_NE(r.output.find("is encrypted with another key"), std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "w.raw"));
  // SENDENSE_KEY_FILE with the paper key reads without a terminal.
  RunOrFail("SENDENSE_KEY_FILE=" + Quote(key_) + " " +
            std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) +
            " restore --vm vm1 --to " + Quote(dir_ / "k.raw"));
  RunOrFail("cmp " + Quote(dir_ / "k.raw") + " " + Quote(s2));
  EXPECT_EQ(RunCommand("ls /dev/shm | grep -c sendense-key-").output, "0\n");
}

// A key-file repository whose key file is gone: the recovery key typed at
// the prompt reads everything.
TEST_F(EncryptedRepositoryTest, TheRecoveryKeyTypedReadsALostKeyFile) {
  MakeSource();
  Backup();
  const std::string s1 = SnapshotSource("s1");
  const std::string key = Slurp(key_);
  std::filesystem::remove(key_);
  auto r = Sendense("restore --vm vm1 --to " + Quote(dir_ / "x.raw"));
  EXPECT_NE(r.output.find("cannot read the key file"), std::string::npos)
      << r.output;
  r = RunCommand("printf '%s\\n' " + key + " | script -qec " +
                 Quote(std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) +
                       " restore --vm vm1 --to " + Quote(dir_ / "y.raw")) +
                 " /dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("(its recovery key)"), std::string::npos) << r.output;
  RunOrFail("cmp " + Quote(dir_ / "y.raw") + " " + Quote(s1));
}

}  // namespace
}  // namespace sendense::test
