// Backups of libvirt domains by name, against the machine's libvirtd
// running TCG domains (tests/libvirt/libvirt_fixture.h). Each point is
// compared with the disk as it was at its checkpoint (the domain paused,
// the image copied with qemu-img).

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "tests/libvirt/libvirt_fixture.h"
#include "tests/support/pki.h"

namespace sendense::test {
namespace {

class LibvirtTest : public LibvirtFixture {
 protected:
  void SetUp() override {
    LibvirtFixture::SetUp();
    if (IsSkipped()) {
      return;
    }
    const std::string why = StartSystemLibvirt();
    if (!why.empty()) {
      GTEST_SKIP() << "SKIPPED LOUDLY: " << why;
    }
  }
};

// A full and two incrementals of a running domain, each equal to the disk
// at its checkpoint; the incrementals read only what changed; one
// checkpoint is left; consistency, checkpoint and domain XML are recorded;
// the tree shows the guest files of the running VM's point.
TEST_F(LibvirtTest, FullAndIncrementalsOfARunningDomainEqualTheDisk) {
  // An ext4 filesystem holding a file, for the guest index.
  const std::string raw = dir_ / "fs.raw";
  RunOrFail("truncate -s 64M " + Quote(raw) + " && mkfs.ext4 -q -F " +
            Quote(raw) + " && echo hello from the guest >" +
            Quote(dir_ / "hello.txt") + " && debugfs -w -R " +
            Quote("write " + (dir_ / "hello.txt") + " hello.txt") + " " +
            Quote(raw) + " >/dev/null 2>&1");
  const std::string image = dir_ / "vda.qcow2";
  RunOrFail("qemu-img convert -f raw -O qcow2 " + Quote(raw) + " " +
            Quote(image));
  StartDomain({{"vda", {image, "qcow2"}}});
  ASSERT_EQ(Sendense("vm add web --libvirt --domain " + domain_).status, 0);
  const auto out = RunOrFail(std::string(SENDENSE_BINARY) + " vm discover");
  EXPECT_NE(out.find(domain_ + "  running"), std::string::npos) << out;

  const std::string o1 = Oracle(image, "o1");
  const auto b1 = Backup("");  // indexed: the tree shows guest files
  ExpectPointEquals(b1, "vda", o1);
  EXPECT_EQ(b1["points"][0]["kind"], "full");
  EXPECT_EQ(b1["consistency"], "crash-consistent");  // no guest agent
  ASSERT_TRUE(b1["checkpoint"].is_string());

  GuestWrite("vda", "write -P 0x61 60M 128k");
  GuestWrite("vda", "write -P 0x62 10M 64k");
  const std::string o2 = Oracle(image, "o2");
  const auto b2 = Backup();
  ExpectPointEquals(b2, "vda", o2);
  EXPECT_EQ(b2["points"][0]["kind"], "incremental");
  EXPECT_EQ(b2["points"][0]["bytes_read"], 192 * 1024);

  GuestWrite("vda", "write -z 60M 64k");
  const std::string o3 = Oracle(image, "o3");
  const auto b3 = Backup();
  ExpectPointEquals(b3, "vda", o3);
  EXPECT_EQ(b3["points"][0]["kind"], "incremental");
  EXPECT_EQ(b3["points"][0]["bytes_read"], 0);
  // The earlier points still read as they were.
  ExpectPointEquals(SendenseJson("list --json")["vms"][0]["backups"][0], "vda",
                    o1);
  // Only the newest checkpoint is kept: the base of the next incremental.
  EXPECT_EQ(Checkpoints(), std::vector<std::string>{b3["checkpoint"]});
  EXPECT_FALSE(JobRuns());

  Mount();
  const std::string point = mnt_ + "/web/" + b1["name"].get<std::string>();
  const std::string listing = RunOrFail("ls " + Quote(point + "/files"));
  ASSERT_FALSE(listing.empty()) << "no guest filesystem in the tree";
  const std::string fs = listing.substr(0, listing.find('\n'));
  const auto hello = ReadFile(point + "/files/" + fs + "/hello.txt");
  EXPECT_EQ(
      std::string(reinterpret_cast<const char*>(hello.data()), hello.size()),
      "hello from the guest\n");
  const auto xml = ReadFile(point + "/domain.xml");
  EXPECT_NE(std::string(reinterpret_cast<const char*>(xml.data()), xml.size())
                .find("<name>" + domain_ + "</name>"),
            std::string::npos);
  Unmount();
}

// kill -9 and SIGTERM in the middle of a backup: no libvirt job is left
// running once the next run (or the cancelled one) is done, and the next
// backup is right.
TEST_F(LibvirtTest, KilledAndCancelledBackupsLeaveNoJobBehind) {
  const std::string image = MakeImage("vda", "qcow2", "1G", "768M");
  StartDomain({{"vda", {image, "qcow2"}}});
  ASSERT_EQ(Sendense("vm add web --libvirt --domain " + domain_).status, 0);
  Backup();
  GuestWrite("vda", "write -P 0x71 0 1M");
  for (const int sig : {SIGKILL, SIGTERM}) {
    // The run's own job: the killed run's stale job may still be there
    // until this run ends it, so wait for the checkpoint this run begins.
    const auto before = Checkpoints();
    BackgroundProcess run(std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) +
                          " backup --vm web --full --no-index");
    ASSERT_TRUE(Eventually(
        [&] {
          for (const auto& c : Checkpoints()) {
            if (std::find(before.begin(), before.end(), c) == before.end()) {
              return JobRuns();
            }
          }
          return false;
        },
        60));  // a loaded CI machine's TCG domain is slow to begin a job
    run.Signal(sig);
    run.Wait();
    if (sig == SIGTERM) {
      EXPECT_TRUE(Eventually([&] { return !JobRuns(); }, 10))
          << "a cancelled backup ended its libvirt job";
    }
  }
  const std::string oracle = Oracle(image, "after");
  const auto next = Backup();
  ExpectPointEquals(next, "vda", oracle);
  EXPECT_EQ(next["points"][0]["kind"], "incremental");
  EXPECT_FALSE(JobRuns());
  EXPECT_EQ(Checkpoints(), std::vector<std::string>{next["checkpoint"]});
}

// Two disks (one raw: full every time, saying why); a checkpoint deleted
// by hand gives a full with its reason; a shut-off domain backs up from its
// images, incrementally where the image keeps the checkpoint's bitmap.
TEST_F(LibvirtTest, DeletedCheckpointsShutOffDomainsAndTwoDisks) {
  const std::string vda = MakeImage("vda", "qcow2", "64M");
  const std::string vdb = MakeImage("vdb", "raw", "32M");
  StartDomain({{"vda", {vda, "qcow2"}}, {"vdb", {vdb, "raw"}}});
  ASSERT_EQ(Sendense("vm add web --libvirt --domain " + domain_).status, 0);
  Backup();
  GuestWrite("vda", "write -P 0x51 1M 64k");
  GuestWrite("vdb", "write -P 0x52 2M 64k");
  std::map<std::string, nlohmann::json> points;
  auto b = Backup();
  for (const auto& p : b["points"]) {
    points[p["disk"]] = p;
  }
  EXPECT_EQ(points["vda"]["kind"], "incremental");
  EXPECT_EQ(points["vdb"]["kind"], "full");
  EXPECT_EQ(points["vdb"]["reason"], "raw image: no persistent bitmaps");

  RunOrFail(Virsh("checkpoint-delete " + domain_ + " " +
                  b["checkpoint"].get<std::string>()));
  b = Backup();
  EXPECT_EQ(b["points"][0]["kind"], "full");
  EXPECT_NE(
      b["points"][0]["reason"].get<std::string>().find("is gone from libvirt"),
      std::string::npos)
      << b["points"][0]["reason"];

  GuestWrite("vda", "write -P 0x53 3M 64k");
  RunOrFail(Virsh("destroy " + domain_ + " >/dev/null"));
  const std::string o_vda = dir_ / "off-vda.raw";
  const std::string o_vdb = dir_ / "off-vdb.raw";
  RunOrFail("qemu-img convert -O raw " + Quote(vda) + " " + Quote(o_vda));
  RunOrFail("cp " + Quote(vdb) + " " + Quote(o_vdb));
  b = Backup();
  EXPECT_EQ(b["consistency"], "shut-off");
  ExpectPointEquals(b, "vda", o_vda);
  ExpectPointEquals(b, "vdb", o_vdb);
  for (const auto& p : b["points"]) {
    points[p["disk"]] = p;
  }
  EXPECT_EQ(points["vda"]["kind"], "incremental");
  EXPECT_EQ(points["vda"]["bytes_read"], 64 * 1024);

  // Shut off again: the backup before left its own bitmap in the image (no
  // libvirt checkpoint can be made of a domain that is off), so this one
  // is incremental too and reads only what changed.
  RunOrFail("qemu-io -f qcow2 -c 'write -q -P 0x54 5M 64k' " + Quote(vda));
  RunOrFail("qemu-img convert -O raw " + Quote(vda) + " " + Quote(o_vda));
  b = Backup();
  for (const auto& p : b["points"]) {
    points[p["disk"]] = p;
  }
  EXPECT_EQ(points["vda"]["kind"], "incremental") << points["vda"];
  EXPECT_EQ(points["vda"]["bytes_read"], 64 * 1024);
  ExpectPointEquals(b, "vda", o_vda);
  // One bitmap of ours is left in the image: the newest backup's.
  const std::string info = RunOrFail("qemu-img info -U " + Quote(vda));
  EXPECT_NE(info.find(b["checkpoint"].get<std::string>()), std::string::npos)
      << info;
}

// restore --define brings a VM back whole: its disk restored standalone,
// the recorded domain XML defined under a new name on the restored file,
// and the new domain starts; a name libvirt has is refused.
// A registered host whose backup jobs serve NBD over TCP: here the
// machine's own libvirt reached at 127.0.0.1 without TLS (TLS needs the
// host QEMU's certificates in qemu.conf, which a test does not change).
// host add|list|check, vm add --host, a full and an incremental read over
// TCP with the first port of the host's range taken by another program,
// host rm refused while the host has a VM.
TEST_F(LibvirtTest, AHostsJobsServeNbdOverTcp) {
  const std::string image = MakeImage("vda", "qcow2", "64M");
  StartDomain({{"vda", {image, "qcow2"}}});
  const int port = FreeTcpPort();
  const std::string ports =
      std::to_string(port) + "-" + std::to_string(port + 3);
  BackgroundProcess squatter(
      "python3 -c 'import socket, time; s = socket.socket(); "
      "s.bind((\"127.0.0.1\", " +
      std::to_string(port) + ")); s.listen(); time.sleep(600)'");

  auto r = Sendense("host add far --libvirt qemu+ssh://root@192.0.2.1/system");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("host far is another machine: its backup data "
                          "would cross the network in clear"),
            std::string::npos)
      << r.output;
  ASSERT_EQ(Sendense("host add here --libvirt qemu:///system --nbd-address "
                     "127.0.0.1 --insecure-nbd --nbd-ports " +
                     ports + " --max-jobs 1")
                .status,
            0);
  ASSERT_EQ(Sendense("vm add web --host here --domain " + domain_).status, 0);
  const auto hosts = SendenseJson("host list --json")["hosts"];
  ASSERT_EQ(hosts.size(), 1u) << hosts.dump();
  EXPECT_EQ(hosts[0]["reachable"], true) << hosts.dump();
  EXPECT_FALSE(hosts[0]["qemu_version"].is_null()) << hosts.dump();
  EXPECT_EQ(hosts[0]["vms"], nlohmann::json::array({"web"}));
  EXPECT_EQ(hosts[0]["nbd_ports"], ports);
  r = Sendense("host check here");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("Host here is ready"), std::string::npos) << r.output;

  r = Sendense("backup --vm web --no-index");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("crosses the network to 127.0.0.1 without TLS"),
            std::string::npos)
      << r.output;
  const std::string oracle1 = Oracle(image, "oracle1");
  auto list = SendenseJson("list --vm web --json")["vms"][0]["backups"];
  ASSERT_EQ(list.size(), 1u);
  ExpectPointEquals(list[0], "vda", oracle1);
  EXPECT_FALSE(JobRuns());

  GuestWrite("vda", "write -P 0x5c 3M 256k");
  const auto inc = Backup();
  EXPECT_EQ(inc["points"][0]["kind"], "incremental") << inc.dump();
  EXPECT_LT(inc["points"][0]["bytes_read"].get<uint64_t>(), 2u << 20);
  ExpectPointEquals(inc, "vda", Oracle(image, "oracle2"));
  EXPECT_FALSE(JobRuns());

  r = Sendense("host rm here");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("host 'here' still has 1 VM (web)"),
            std::string::npos)
      << r.output;
}

TEST_F(LibvirtTest, RestoreDefineBringsTheVmBackWhole) {
  const std::string image = MakeImage("vda", "qcow2", "64M");
  StartDomain({{"vda", {image, "qcow2"}}});
  ASSERT_EQ(Sendense("vm add web --libvirt --domain " + domain_).status, 0);
  const std::string oracle = Oracle(image, "o");
  const auto b = Backup();
  const std::string name = domain_ + "-restored";
  const std::string to = dir_ / "restored";
  std::filesystem::create_directories(to);
  ::chmod(to.c_str(), 0755);
  const auto r = SendenseJson("restore --vm web --define " + name + " --to " +
                              Quote(to) + " --json");
  EXPECT_EQ(r["domain"], name);
  EXPECT_EQ(r["backup"], b["name"]);
  const std::string disk = to + "/" + name + "-vda.qcow2";
  const auto cmp = RunCommand("qemu-img compare -F raw " + Quote(disk) + " " +
                              Quote(oracle));
  EXPECT_EQ(cmp.status, 0) << cmp.output;
  const std::string xml = RunOrFail(Virsh("dumpxml --inactive " + name));
  EXPECT_NE(xml.find("<source file='" + disk + "'"), std::string::npos) << xml;
  EXPECT_EQ(xml.find(image), std::string::npos)
      << "the new VM uses the original's image";
  RunOrFail(Virsh("start " + name));
  const auto again = Sendense("restore --vm web --define " + name + " --to " +
                              Quote(to) + " --force");
  EXPECT_NE(again.status, 0);
  EXPECT_NE(again.output.find("already has a domain"), std::string::npos)
      << again.output;
}

}  // namespace
}  // namespace sendense::test
