#include "tests/libvirt/libvirt_fixture.h"

#include <sys/stat.h>
#include <unistd.h>

namespace sendense::test {
namespace {

bool SystemLibvirtUp() {
  return RunCommand("virsh -q -c qemu:///system version >/dev/null 2>&1")
             .status == 0;
}

}  // namespace

std::string StartSystemLibvirt() {
  if (SystemLibvirtUp()) {
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
  if (!Eventually(SystemLibvirtUp, 30)) {
    return "libvirtd did not start (is libvirt-daemon-driver-qemu "
           "installed?)";
  }
  return "";
}

void LibvirtFixture::SetUp() {
  MountFixture::SetUp();
  if (::geteuid() != 0) {
    GTEST_SKIP() << "SKIPPED LOUDLY: libvirt tests need root";
  }
  // qemu runs as another user: it must reach the images.
  ::chmod(dir_.path().c_str(), 0755);
  domain_ = "sendense-test-" + std::to_string(::getpid()) + "-" +
            std::to_string(++count_);
}

void LibvirtFixture::TearDown() {
  if (!domain_.empty()) {
    for (const auto& d : {domain_ + "-restored", domain_}) {
      RunCommand(Virsh("destroy " + d + " >/dev/null 2>&1"));
      RunCommand(
          Virsh("undefine " + d + " --checkpoints-metadata >/dev/null 2>&1"));
    }
  }
  MountFixture::TearDown();
}

std::string LibvirtFixture::Virsh(const std::string& args) const {
  return "virsh -q -c " + Quote(uri_) + " " + args;
}

void LibvirtFixture::StartDomain(
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
  WriteText(dir_ / "domain.xml", xml);
  RunOrFail(Virsh("define " + Quote(dir_ / "domain.xml")));
  RunOrFail(Virsh("start " + domain_));
}

std::string LibvirtFixture::MakeImage(const std::string& name,
                                      const std::string& format,
                                      const std::string& size,
                                      const std::string& data) {
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

void LibvirtFixture::GuestWrite(const std::string& target,
                                const std::string& command) {
  const std::string device = "/machine/peripheral/virtio-disk" +
                             std::string(1, target.back() - 'a' + '0') +
                             "/virtio-backend";
  RunOrFail(Virsh("qemu-monitor-command " + domain_ + " --hmp " +
                  Quote("qemu-io -d " + device + " \"" + command + "\"")));
}

std::string LibvirtFixture::Oracle(const std::string& image,
                                   const std::string& name) {
  const std::string out = dir_ / (name + ".raw");
  RunOrFail(Virsh("suspend " + domain_ + " >/dev/null"));
  RunOrFail("qemu-img convert -U -O raw " + Quote(image) + " " + Quote(out));
  RunOrFail(Virsh("resume " + domain_ + " >/dev/null"));
  return out;
}

nlohmann::json LibvirtFixture::Backup(const std::string& extra) {
  return SendenseJson("backup --vm web --json " + extra);
}

void LibvirtFixture::ExpectPointEquals(const nlohmann::json& backup,
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

std::vector<std::string> LibvirtFixture::Checkpoints() {
  std::vector<std::string> out;
  std::string list = RunOrFail(Virsh("checkpoint-list " + domain_ + " --name"));
  size_t pos = 0;
  while ((pos = list.find('\n')) != std::string::npos) {
    if (pos > 0) {
      out.push_back(list.substr(0, pos));
    }
    list.erase(0, pos + 1);
  }
  return out;
}

bool LibvirtFixture::JobRuns() {
  const auto r = RunCommand(Virsh("domjobinfo " + domain_));
  return r.status != 0 || r.output.find("Backup") != std::string::npos;
}

}  // namespace sendense::test
