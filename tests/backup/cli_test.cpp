// The command line's habits: -r anywhere, usage mistakes as one sentence
// with exit status 2, unknown VMs as errors everywhere, `vm set`.

#include "tests/support/backup_fixture.h"

namespace sendense::test {
namespace {

class CliTest : public BackupFixture {
 protected:
  // `sendense ARGS` without -r.
  CommandResult Bare(const std::string& args) {
    return RunCommand(std::string(SENDENSE_BINARY) + " " + args);
  }
};

TEST_F(CliTest, RepoOptionIsAcceptedAfterTheSubcommand) {
  const auto r = Bare("list -r " + Quote(repo_));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output.rfind("No backups yet.\nRepository: ", 0), 0u) << r.output;
  const auto nested = Bare("vm list --repo " + Quote(repo_));
  EXPECT_EQ(nested.status, 0) << nested.output;
  EXPECT_NE(Bare("list --help").output.find("-r,--repo"), std::string::npos);
  EXPECT_NE(Bare("vm add --help").output.find("-r,--repo"), std::string::npos);
}

TEST_F(CliTest, UsageMistakesAreOneSentenceWithExitStatusTwo) {
  const struct {
    std::string args;
    std::string output;
  } cases[] = {
      {"lsit", "sendense: unknown command 'lsit'; did you mean 'list'?\n"},
      {"vm lsit",
       "sendense: unknown command 'lsit' of 'vm'; did you mean 'list'?\n"},
      {"list --jsn",
       "sendense: unknown option '--jsn' for 'list'; did you mean '--json'? "
       "(see 'sendense list --help')\n"},
      {"backup --vm a --disk a=nbd://x --timeout -5",
       "sendense: --timeout must be between 1 and 86400 seconds\n"},
      {"serve --jobs 99",
       "sendense: --jobs must be between 1 and 16 backups\n"},
      {"", "sendense: no command given (see 'sendense --help')\n"},
  };
  for (const auto& c : cases) {
    const auto r = Sendense(c.args);
    EXPECT_EQ(r.status, 2) << c.args << ": " << r.output;
    EXPECT_EQ(r.output, c.output) << c.args;
  }
  EXPECT_EQ(Sendense("--help").status, 0);
}

TEST_F(CliTest, AnUnknownVmIsAnErrorEverywhere) {
  for (const std::string args :
       {"list --vm nope", "find --vm nope motd", "history --vm nope /etc/motd",
        "index --vm nope", "vm rm nope", "vm set nope --bitmap b"}) {
    const auto r = Sendense(args);
    EXPECT_EQ(r.status, 1) << args << ": " << r.output;
    EXPECT_EQ(r.output, "sendense: no VM named 'nope'\n") << args;
  }
  // A name near a known one is suggested.
  ASSERT_EQ(Sendense("vm add web1 --disk sda=nbd://127.0.0.1/x").status, 0);
  const auto near = Sendense("vm set web1x --bitmap b");
  EXPECT_EQ(near.output,
            "sendense: no VM named 'web1x'; did you mean 'web1'?\n");
}

// What a new admin's first mistakes do: a mistyped VM with its source down
// records nothing; a path for a disk is refused before anything is
// recorded; failed records and ad-hoc VMs can be removed; an explicit 0
// keeps nothing and is refused; messages in our own words.
TEST_F(CliTest, ANewAdminsMistakesLeaveNothingBehind) {
  MakeSource();
  const std::string gone = dir_ / "gone.sock";
  auto r = Sendense("backup --vm vm1x --disk sda=nbd+unix:///?socket=" + gone);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(
      r.output.find("no NBD server answers at nbd+unix:///?socket=" + gone +
                    " (No such file or directory): is its "
                    "server (qemu-nbd, nbdkit, the VM's qemu) "
                    "running?"),
      std::string::npos)
      << r.output;
  EXPECT_EQ(SendenseJson("list --json")["vms"].size(), 0u)
      << "a VM was recorded for a backup that never started";

  r = Sendense("backup --vm vm1 --disk sda=" + source_);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("disk 'sda': '" + source_ +
                          "' is not an NBD URI; serve the image first"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(SendenseJson("list --json")["vms"].size(), 0u);
  r = Sendense("vm add vm2 --disk sda=" + source_);
  EXPECT_NE(r.output.find("is not an NBD URI"), std::string::npos) << r.output;

  // A VM with a point, then a failed backup (its server gone): the failed
  // record is forgotten by name; a VM with only failed records is removed.
  {
    NbdServer server(dir_.path(), QemuNbdCommand(source_, ""));
    ASSERT_EQ(Sendense(BackupArgs(server)).status, 0);
  }
  r = Sendense("backup --vm vm1 --disk sda=nbd+unix:///?socket=" + gone);
  ASSERT_EQ(r.status, 1);
  auto backups = SendenseJson("list --json")["vms"][0]["backups"];
  ASSERT_EQ(backups.size(), 2u);
  ASSERT_EQ(backups[1]["state"], "failed");
  r = Sendense("forget --vm vm1 " + backups[1]["name"].get<std::string>());
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("vm1 (forget: the points named)"), std::string::npos)
      << r.output;
  EXPECT_EQ(SendenseJson("list --json")["vms"][0]["backups"].size(), 1u);

  r = Sendense("vm rm vm1");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("Its 1 complete backup(s) stay"), std::string::npos)
      << r.output;
  EXPECT_EQ(SendenseJson("list --json")["vms"].size(), 1u);

  // An explicit 0 is never "the stored policy".
  for (const std::string keep : {"--keep-last 0", "--keep-daily 0"}) {
    r = Sendense("prune --vm vm1 " + keep);
    EXPECT_EQ(r.status, 1) << keep;
    EXPECT_NE(r.output.find("keeps no point"), std::string::npos) << r.output;
  }
  r = Sendense("prune --vm vm1 --keep-daily -1");
  EXPECT_EQ(r.output,
            "sendense: --keep-daily must be between 0 and 100000 points\n");
  // samba-config on a folder where no tree is mounted.
  r = Sendense("samba-config --mount " + Quote(dir_.path()));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("no Sendense tree is mounted at"), std::string::npos)
      << r.output;
  r = Sendense("samba-config --force --mount " + Quote(dir_.path()));
  EXPECT_EQ(r.output.find("no Sendense tree is mounted"), std::string::npos)
      << "--force writes anyway: " << r.output;
  r = Sendense("serve --restore-dir " + Quote(dir_ / "nope"));
  EXPECT_EQ(r.output, "sendense: --restore-dir must be an existing folder ('" +
                          std::string(dir_ / "nope") + "' is not one)\n");
}

TEST_F(CliTest, VmSetChangesWhatIsGivenAndListShowsTheBitmap) {
  ASSERT_EQ(
      Sendense("vm add web1 --disk sda=nbd://h/a --schedule hourly").status, 0);
  EXPECT_NE(Sendense("vm list").output.find("no bitmap"), std::string::npos);
  const auto r = Sendense("vm set web1 --bitmap b7 --disk sda=nbd://h/b");
  EXPECT_EQ(r.status, 0) << r.output;
  auto vm = SendenseJson("vm list --json")["vms"][0];
  EXPECT_EQ(vm["bitmap"], "b7");
  EXPECT_EQ(vm["schedule"], "hourly");  // not given: kept
  EXPECT_EQ(vm["schedule_text"], "hourly");
  EXPECT_EQ(vm["disks"]["sda"], "nbd://h/b");
  EXPECT_NE(Sendense("vm list").output.find("bitmap b7"), std::string::npos);
  ASSERT_EQ(Sendense("vm set web1 --no-schedule").status, 0);
  vm = SendenseJson("vm list --json")["vms"][0];
  EXPECT_EQ(vm["schedule"], "");
  EXPECT_EQ(vm["schedule_text"], "manual");
  const auto bad = Sendense("vm set web1 --schedule weekly");
  EXPECT_EQ(bad.status, 1);
  EXPECT_EQ(SendenseJson("vm list --json")["vms"][0]["bitmap"], "b7");
}

// vm set changes a libvirt VM's domain and disks ('' clears a list), and
// refuses libvirt options for a VM of NBD URIs.
TEST_F(CliTest, VmSetChangesALibvirtVm) {
  // libvirt's built-in test driver has one domain, "test".
  const auto missing =
      Sendense("vm add lv --libvirt test:///default --domain tset");
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.output,
            "sendense: libvirt at test:///default has no domain 'tset'; did "
            "you mean 'test'?\n");
  ASSERT_EQ(
      Sendense("vm add lv --libvirt test:///default --domain test --disks vda")
          .status,
      0);
  ASSERT_EQ(Sendense("vm set lv --domain bar --exclude vdb").status, 0);
  auto lv = SendenseJson("vm list --json")["vms"][0]["libvirt"];
  EXPECT_EQ(lv["domain"], "bar");
  EXPECT_EQ(lv["disks"], nlohmann::json::array());
  EXPECT_EQ(lv["exclude"], nlohmann::json({"vdb"}));
  ASSERT_EQ(Sendense("vm set lv --exclude ''").status, 0);
  lv = SendenseJson("vm list --json")["vms"][0]["libvirt"];
  EXPECT_EQ(lv["exclude"], nlohmann::json::array());
  EXPECT_EQ(lv["uri"], "test:///default");
  ASSERT_EQ(Sendense("vm add nb --disk sda=nbd://127.0.0.1/x").status, 0);
  const auto r = Sendense("vm set nb --domain x");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("is not a libvirt VM"), std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace sendense::test
