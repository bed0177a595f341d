// Tenants through the real binary: two tenants each with a VM named web1,
// a quota that refuses a backup before it writes a byte, usage that
// shrinks after a prune, and a tree mounted for one tenant that shows only
// its VMs, under their own names.

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <set>

#include "tests/support/mount_fixture.h"

namespace sendense::test {
namespace {

class TenantTest : public MountFixture {
 protected:
  std::set<std::string> Entries(const std::string& dir) {
    std::set<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      out.insert(e.path().filename().string());
    }
    return out;
  }

  int64_t UsedBytes(const std::string& tenant) {
    const auto list = SendenseJson("tenant list --json");
    for (const auto& t : list["tenants"]) {
      if (t["name"] == tenant) {
        return t["used_bytes"];
      }
    }
    ADD_FAILURE() << "no tenant " << tenant << " in " << list.dump();
    return -1;
  }
};

TEST_F(TenantTest, QuotasTwoWeb1sAndATreePerTenant) {
  // The source on one socket path that outlives each server, so that it
  // can change between backups (qemu-nbd holds its write lock).
  const std::string socket = dir_ / "source.sock";
  const std::string uri = "nbd+unix:///?socket=" + socket;
  std::unique_ptr<BackgroundProcess> server;
  const auto serve = [&] {
    server.reset();
    std::string command = QemuNbdCommand(source_, "b0");
    command.replace(command.find("{sock}"), 6, Quote(socket));
    ::unlink(socket.c_str());
    server = std::make_unique<BackgroundProcess>(command);
    ASSERT_TRUE(WaitForPath(socket));
  };
  serve();
  ASSERT_EQ(Sendense("tenant add acme --quota 1MiB --max-vms 1").status, 0);
  ASSERT_EQ(Sendense("tenant add globex").status, 0);
  for (const std::string t : {"acme", "globex"}) {
    const auto r = Sendense("vm add web1 --tenant " + t +
                            " --bitmap b0 --disk sda=" + uri);
    ASSERT_EQ(r.status, 0) << r.output;
  }
  // The VM limit, and a tenant that does not exist.
  auto r = Sendense("vm add web2 --tenant acme --disk sda=" + uri);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("limit of 1 VMs"), std::string::npos) << r.output;
  r = Sendense("vm add web2 --tenant initech --disk sda=" + uri);
  EXPECT_NE(r.output.find("no tenant named 'initech'"), std::string::npos)
      << r.output;

  // Past the quota: refused, naming it, before any byte is written.
  r = Sendense("backup --vm web1@acme");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("quota of 0.00 GiB"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("nothing of it was written"), std::string::npos)
      << r.output;
  EXPECT_TRUE(RepoFiles().empty()) << RepoFiles().front();
  EXPECT_EQ(UsedBytes("acme"), 0);

  // With room, both tenants' web1 are backed up, apart.
  ASSERT_EQ(Sendense("tenant set acme --no-quota").status, 0);
  const std::string acme1 =
      SendenseJson("backup --vm web1@acme --json")["backup"];
  server.reset();
  ChangeSource("-c 'write -q -P 0x5a 1M 4M'");
  serve();
  const std::string acme2 =
      SendenseJson("backup --vm web1@acme --json")["backup"];
  const std::string globex1 =
      SendenseJson("backup --vm web1@globex --json")["backup"];
  const int64_t before = UsedBytes("acme");
  EXPECT_GT(before, 1 << 20);
  EXPECT_GT(UsedBytes("globex"), 0);

  // The tree for one tenant: only its VM, under its own name.
  Mount("--tenant acme");
  EXPECT_EQ(Entries(mnt_), (std::set<std::string>{"web1"}));
  EXPECT_TRUE(
      std::filesystem::exists(mnt_ + "/web1/" + acme1 + "/disks/sda.raw"));
  EXPECT_EQ(Entries(mnt_ + "/web1"),
            (std::set<std::string>{"latest", acme1, acme2}));
  Unmount();
  // The appliance's tree: every VM by its qualified name.
  Mount();
  EXPECT_EQ(Entries(mnt_), (std::set<std::string>{"web1@acme", "web1@globex"}));
  Unmount();
  r = Sendense("mount " + mnt_ + " --tenant initech");
  EXPECT_NE(r.output.find("no tenant named 'initech'"), std::string::npos)
      << r.output;

  // A tenant's Samba shares need the users who may see them, and only
  // its own VMs.
  r = Sendense("samba-config --force --mount " + mnt_ + " --tenant acme");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--valid-users"), std::string::npos) << r.output;
  r = Sendense("samba-config --force --mount " + mnt_ +
               " --tenant acme --valid-users ann --vm web1@globex");
  EXPECT_NE(r.output.find("is not tenant acme's"), std::string::npos)
      << r.output;

  // A prune gives the space back to the tenant's usage.
  r = Sendense("prune --vm web1@acme --keep-last 1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_LT(UsedBytes("acme"), before);
  // A tenant with VMs cannot go; without them it can, with its users.
  r = Sendense("tenant rm acme");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("still has 1 VM (web1@acme)"), std::string::npos)
      << r.output;
  // Everything above is in the audit log.
  const auto audit = SendenseJson("audit --tenant acme --json");
  std::set<std::string> actions;
  for (const auto& rec : audit["records"]) {
    actions.insert(rec["action"].get<std::string>());
  }
  for (const std::string a : {"vm add", "prune"}) {
    EXPECT_TRUE(actions.count(a)) << a << " not audited: " << audit.dump();
  }
}

}  // namespace
}  // namespace sendense::test
