// Backups of libvirt domains by name, against a real libvirtd running TCG
// domains (started here when none runs). The domains run no OS (SeaBIOS
// finds nothing to boot): the disks change through QEMU's own block layer
// (HMP `qemu-io` on the device), which the dirty bitmaps record as they
// record a guest's writes. Each point is compared with the disk as it was
// at its checkpoint (the domain paused, the image copied with qemu-img).

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "tests/support/mount_fixture.h"

namespace sendense::test {
namespace {

constexpr const char* kVirsh = "virsh -q -c qemu:///system ";

bool LibvirtUp() {
  return RunCommand(std::string(kVirsh) + "version >/dev/null 2>&1").status ==
         0;
}

// libvirtd and virtlogd, started as the test machines need (no systemd).
std::string StartLibvirt() {
  if (LibvirtUp()) {
    return "";
  }
  RunCommand(
      "getent passwd libvirt-qemu >/dev/null || useradd -r -s "
      "/usr/sbin/nologin libvirt-qemu; getent group kvm >/dev/null || "
      "groupadd -r kvm; "
      // Without /dev/kvm access for the qemu user, libvirtd finds its
      // capability cache stale on every call and re-probes QEMU (seconds
      // per virsh command), as Debian's libvirt-daemon-system would set up.
      "id -nG libvirt-qemu | grep -qw kvm || usermod -aG kvm libvirt-qemu; "
      "mkdir -p /var/log/libvirt /var/run/libvirt; "
      "pgrep -x virtlogd >/dev/null || virtlogd -d; "
      "pgrep -x libvirtd >/dev/null || libvirtd -d");
  if (!Eventually(LibvirtUp, 30)) {
    return "libvirtd did not start (is libvirt-daemon-driver-qemu "
           "installed?)";
  }
  return "";
}

class LibvirtTest : public MountFixture {
 protected:
  void SetUp() override {
    MountFixture::SetUp();
    if (::geteuid() != 0) {
      GTEST_SKIP()
          << "SKIPPED LOUDLY: libvirt tests need root (qemu:///system)";
    }
    const std::string why = StartLibvirt();
    if (!why.empty()) {
      GTEST_SKIP() << "SKIPPED LOUDLY: " << why;
    }
    // qemu runs as another user: it must reach the images.
    ::chmod(dir_.path().c_str(), 0755);
    domain_ = "sendense-test-" + std::to_string(::getpid()) + "-" +
              std::to_string(++count_);
  }

  void TearDown() override {
    if (!domain_.empty()) {
      // The test's domain and the one a restore defined from it.
      for (const auto& d : {domain_ + "-restored", domain_}) {
        RunCommand(std::string(kVirsh) + "destroy " + d + " >/dev/null 2>&1");
        RunCommand(std::string(kVirsh) + "undefine " + d +
                   " --checkpoints-metadata >/dev/null 2>&1");
      }
    }
    MountFixture::TearDown();
  }

  // Defines and starts a domain with `disks`: target -> (image, format).
  void StartDomain(
      const std::map<std::string, std::pair<std::string, std::string>>& disks) {
    std::string xml = "<domain type='qemu'><name>" + domain_ +
                      "</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
                      "<os><type arch='x86_64' machine='pc'>hvm</type></os>"
                      "<devices>";
    for (const auto& [target, image] : disks) {
      xml += "<disk type='file' device='disk'><driver name='qemu' type='" +
             image.second + "'/><source file='" + image.first +
             "'/><target dev='" + target + "' bus='virtio'/></disk>";
    }
    xml += "<serial type='pty'/></devices></domain>";
    WriteFile(dir_ / "domain.xml",
              std::vector<std::byte>(
                  reinterpret_cast<const std::byte*>(xml.data()),
                  reinterpret_cast<const std::byte*>(xml.data() + xml.size())));
    RunOrFail(std::string(kVirsh) + "define " + Quote(dir_ / "domain.xml"));
    RunOrFail(std::string(kVirsh) + "start " + domain_);
  }

  // An image of `size` with random data in its first `data` bytes.
  std::string MakeImage(const std::string& name,
                        const std::string& format,
                        const std::string& size,
                        const std::string& data = "4M") {
    const std::string raw = dir_ / (name + ".raw");
    RunOrFail("truncate -s " + size + " " + Quote(raw) + " && head -c " + data +
              " /dev/urandom | dd of=" + Quote(raw) +
              " conv=notrunc status=none");
    if (format == "raw") {
      return raw;
    }
    const std::string image = dir_ / (name + "." + format);
    RunOrFail("qemu-img convert -f raw -O " + format + " " + Quote(raw) + " " +
              Quote(image) + " && rm " + Quote(raw));
    return image;
  }

  // Writes through QEMU's block layer, as a guest would (`vda` is the
  // first virtio disk).
  void GuestWrite(const std::string& target, const std::string& command) {
    const std::string device = "/machine/peripheral/virtio-disk" +
                               std::string(1, target.back() - 'a' + '0') +
                               "/virtio-backend";
    RunOrFail(std::string(kVirsh) + "qemu-monitor-command " + domain_ +
              " --hmp " +
              Quote("qemu-io -d " + device + " \"" + command + "\""));
  }

  // The disk as it is now: the domain paused while the image is copied.
  std::string Oracle(const std::string& image, const std::string& name) {
    const std::string out = dir_ / (name + ".raw");
    RunOrFail(std::string(kVirsh) + "suspend " + domain_ + " >/dev/null");
    RunOrFail("qemu-img convert -U -O raw " + Quote(image) + " " + Quote(out));
    RunOrFail(std::string(kVirsh) + "resume " + domain_ + " >/dev/null");
    return out;
  }

  nlohmann::json Backup(const std::string& extra = "--no-index") {
    const auto j = SendenseJson("backup --vm web --json " + extra);
    return j;
  }

  void ExpectPointEquals(const nlohmann::json& backup,
                         const std::string& disk,
                         const std::string& oracle) {
    for (const auto& p : backup["points"]) {
      if (p["disk"] == disk) {
        const auto r =
            RunCommand("qemu-img compare -f qcow2 -F raw " +
                       Quote(repo_ + "/" + p["file"].get<std::string>()) + " " +
                       Quote(oracle));
        EXPECT_EQ(r.status, 0) << r.output;
        return;
      }
    }
    ADD_FAILURE() << "no point of disk " << disk << " in " << backup.dump();
  }

  std::vector<std::string> Checkpoints() {
    std::vector<std::string> out;
    std::string list = RunOrFail(std::string(kVirsh) + "checkpoint-list " +
                                 domain_ + " --name");
    size_t pos = 0;
    while ((pos = list.find('\n')) != std::string::npos) {
      if (pos > 0) {
        out.push_back(list.substr(0, pos));
      }
      list.erase(0, pos + 1);
    }
    return out;
  }

  // Whether libvirt runs a backup job of the domain (or is ending one).
  bool JobRuns() {
    const auto r = RunCommand(std::string(kVirsh) + "domjobinfo " + domain_);
    return r.status != 0 || r.output.find("Backup") != std::string::npos;
  }

  std::string domain_;
  static inline int count_ = 0;
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

  RunOrFail(std::string(kVirsh) + "checkpoint-delete " + domain_ + " " +
            b["checkpoint"].get<std::string>());
  b = Backup();
  EXPECT_EQ(b["points"][0]["kind"], "full");
  EXPECT_NE(
      b["points"][0]["reason"].get<std::string>().find("is gone from libvirt"),
      std::string::npos)
      << b["points"][0]["reason"];

  GuestWrite("vda", "write -P 0x53 3M 64k");
  RunOrFail(std::string(kVirsh) + "destroy " + domain_ + " >/dev/null");
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
  const std::string xml =
      RunOrFail(std::string(kVirsh) + "dumpxml --inactive " + name);
  EXPECT_NE(xml.find("<source file='" + disk + "'"), std::string::npos) << xml;
  EXPECT_EQ(xml.find(image), std::string::npos)
      << "the new VM uses the original's image";
  RunOrFail(std::string(kVirsh) + "start " + name);
  const auto again = Sendense("restore --vm web --define " + name + " --to " +
                              Quote(to) + " --force");
  EXPECT_NE(again.status, 0);
  EXPECT_NE(again.output.find("already has a domain"), std::string::npos)
      << again.output;
}

}  // namespace
}  // namespace sendense::test
