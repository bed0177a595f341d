// The command line's habits: -r anywhere, usage mistakes as one sentence
// with exit status 2, unknown VMs as errors everywhere, `vm set`.

#include "tests/backup/backup_fixture.h"

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
      {"serve --workers 99",
       "sendense: --workers must be between 1 and 16 backups\n"},
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
  EXPECT_EQ(vm["disks"]["sda"], "nbd://h/b");
  EXPECT_NE(Sendense("vm list").output.find("bitmap b7"), std::string::npos);
  ASSERT_EQ(Sendense("vm set web1 --no-schedule").status, 0);
  EXPECT_EQ(SendenseJson("vm list --json")["vms"][0]["schedule"], "");
  const auto bad = Sendense("vm set web1 --schedule weekly");
  EXPECT_EQ(bad.status, 1);
  EXPECT_EQ(SendenseJson("vm list --json")["vms"][0]["bitmap"], "b7");
}

// vm set changes a libvirt VM's domain and disks ('' clears a list), and
// refuses libvirt options for a VM of NBD URIs.
TEST_F(CliTest, VmSetChangesALibvirtVm) {
  ASSERT_EQ(Sendense("vm add lv --libvirt --domain foo --disks vda").status, 0);
  ASSERT_EQ(Sendense("vm set lv --domain bar --exclude vdb").status, 0);
  auto lv = SendenseJson("vm list --json")["vms"][0]["libvirt"];
  EXPECT_EQ(lv["domain"], "bar");
  EXPECT_EQ(lv["disks"], nlohmann::json::array());
  EXPECT_EQ(lv["exclude"], nlohmann::json({"vdb"}));
  ASSERT_EQ(Sendense("vm set lv --exclude ''").status, 0);
  lv = SendenseJson("vm list --json")["vms"][0]["libvirt"];
  EXPECT_EQ(lv["exclude"], nlohmann::json::array());
  EXPECT_EQ(lv["uri"], "qemu:///system");
  ASSERT_EQ(Sendense("vm add nb --disk sda=nbd://127.0.0.1/x").status, 0);
  const auto r = Sendense("vm set nb --domain x");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("is not a libvirt VM"), std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace sendense::test
