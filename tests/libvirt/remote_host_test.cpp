// Backups of a running domain on a "remote" host (tests/libvirt/
// remote_host.h): libvirt reached through qemu+ssh://, the backup job's
// NBD server on TCP with TLS, read by Sendense with client certificates;
// and each way it can fail ending clean with one sentence.

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <memory>
#include <thread>

#include "tests/libvirt/libvirt_fixture.h"
#include "tests/libvirt/remote_host.h"

namespace sendense::test {
namespace {

class RemoteHostTest : public LibvirtFixture {
 protected:
  void SetUp() override {
    LibvirtFixture::SetUp();
    if (IsSkipped()) {
      return;
    }
    host_ = std::make_unique<RemoteHost>(dir_ / "host");
    if (!host_->why_not().empty()) {
      GTEST_SKIP() << "SKIPPED LOUDLY: " << host_->why_not();
    }
    uri_ = host_->uri();
  }

  void TearDown() override {
    LibvirtFixture::TearDown();
    host_.reset();
  }

  // A running domain on the host with a 1 GiB disk, 512 MiB of it data;
  // host kvm1 (libvirt at uri_) and VM web on it.
  std::string StartWeb() {
    const std::string image = MakeImage("vda", "qcow2", "1G", "512M");
    host_->Give(image);
    StartDomain({{"vda", {image, "qcow2"}}});
    auto r = Sendense("host add kvm1 --libvirt " + Quote(uri_) + " --nbd-tls " +
                      Quote(host_->pki().client) + " --server-tls " +
                      Quote(host_->pki().server));
    EXPECT_EQ(r.status, 0) << r.output;
    r = Sendense("vm add web --host kvm1 --domain " + domain_);
    EXPECT_EQ(r.status, 0) << r.output;
    return image;
  }

  // The complete backups of web (a failed one is listed as failed).
  size_t Points() {
    size_t n = 0;
    const auto list = SendenseJson("list --vm web --json");
    for (const auto& b : list["vms"][0]["backups"]) {
      n += b["state"] == "complete" ? 1 : 0;
    }
    return n;
  }

  // The error lines of a failed run: exactly one is expected.
  static size_t ErrorLines(const std::string& output) {
    size_t n = 0;
    for (size_t pos = 0;
         (pos = output.find("sendense: ", pos)) != std::string::npos; ++pos) {
      ++n;
    }
    return n;
  }

  std::unique_ptr<RemoteHost> host_;
};

// While a backup runs, the host's libvirt job as the host has it; with it,
// whether a client without the certificates, or with another CA's, can
// read the export.
struct JobWatch {
  std::string xml;
  CommandResult in_clear;
  CommandResult other_ca;
};

// Waits for the domain's backup job, stops `backup` (Sendense) while two
// other clients try the job's NBD server, and lets it go on.
JobWatch WatchJob(const std::string& uri,
                  const std::string& domain,
                  const std::string& other_client,
                  BackgroundProcess& backup) {
  JobWatch w;
  virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});  // "no job" is news
  virConnectPtr c = virConnectOpen(uri.c_str());
  if (c == nullptr) {
    return w;
  }
  virDomainPtr d = virDomainLookupByName(c, domain.c_str());
  const auto until = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  while (d != nullptr && std::chrono::steady_clock::now() < until) {
    if (char* x = virDomainBackupGetXMLDesc(d, 0)) {
      const std::string xml = x;
      std::free(x);
      if (xml.find("<disk ") != std::string::npos) {  // set up
        backup.Signal(SIGSTOP);
        w.xml = xml;
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!w.xml.empty()) {
    const size_t p = w.xml.find(" port='") + 7;
    const std::string port = w.xml.substr(p, w.xml.find('\'', p) - p);
    // libvirt shows the job before QEMU listens.
    Eventually(
        [&] { return !RunCommand("ss -Hltn sport = :" + port).output.empty(); },
        60);
    w.in_clear = RunCommand("nbdinfo --size nbd://127.0.0.1:" + port +
                            "/sendense-vda 2>&1");
    w.other_ca =
        RunCommand("nbdinfo --size " +
                   Quote("nbds://127.0.0.1:" + port +
                         "/sendense-vda?tls-certificates=" + other_client) +
                   " 2>&1");
    backup.Signal(SIGCONT);
  }
  if (d != nullptr) {
    virDomainFree(d);
  }
  virConnectClose(c);
  return w;
}

// host add|list over qemu+ssh, vm discover|add --host; a full and an
// incremental of the running domain, each equal to its disk, the data read
// over TCP with TLS from the host's QEMU, which refuses a client without
// the certificates and one of another CA.
TEST_F(RemoteHostTest, FullAndIncrementalOverSshWithTlsNbd) {
  const std::string image = StartWeb();
  const auto hosts = SendenseJson("host list --json")["hosts"];
  ASSERT_EQ(hosts.size(), 1u);
  EXPECT_EQ(hosts[0]["remote"], true) << hosts.dump();
  EXPECT_EQ(hosts[0]["reachable"], true) << hosts.dump();
  EXPECT_EQ(hosts[0]["nbd_address"], "127.0.0.1") << hosts.dump();
  EXPECT_FALSE(hosts[0]["qemu_version"].is_null()) << hosts.dump();
  const auto found = Sendense("vm discover --host kvm1");
  EXPECT_NE(found.output.find(domain_ + "  running"), std::string::npos)
      << found.output;
  const auto ready = Sendense("host check kvm1");
  EXPECT_EQ(ready.status, 0) << ready.output;
  EXPECT_EQ(ready.output.find("Advice:"), std::string::npos) << ready.output;
  const std::string dh = host_->pki().server + "/dh-params.pem";
  RunOrFail("mv " + Quote(dh) + " " + Quote(dh + ".away"));
  const auto advised = Sendense("host check kvm1");
  RunOrFail("mv " + Quote(dh + ".away") + " " + Quote(dh));
  EXPECT_EQ(advised.status, 0) << advised.output;
  EXPECT_NE(advised.output.find("Advice: on kvm1, QEMU makes Diffie-Hellman "
                                "parameters for each backup job"),
            std::string::npos)
      << advised.output;
  ASSERT_EQ(Sendense("host set kvm1 --server-tls /var/tmp/none").status, 0);
  const auto unready = Sendense("host check kvm1");
  EXPECT_NE(unready.status, 0);
  EXPECT_NE(unready.output.find("no server certificates in /var/tmp/none"),
            std::string::npos)
      << unready.output;
  ASSERT_EQ(Sendense("host set kvm1 --server-tls " + Quote(host_->pki().server))
                .status,
            0);

  const std::string out = dir_ / "full.json";
  BackgroundProcess run(std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) +
                            " backup --vm web --no-index --json",
                        out);
  const JobWatch watch =
      WatchJob(uri_, domain_, host_->pki().other_client, run);
  ASSERT_EQ(run.Wait(), 0) << Slurp(out);
  const std::string said = Slurp(out);  // stderr's lines, then the JSON
  const size_t json_at = said[0] == '{' ? 0 : said.find("\n{") + 1;
  const auto full = nlohmann::json::parse(said.substr(json_at));
  ExpectPointEquals(full, "vda", Oracle(image, "o1"));
  EXPECT_EQ(full["points"][0]["kind"], "full");
  ASSERT_FALSE(watch.xml.empty()) << "the backup job was never seen";
  EXPECT_NE(watch.xml.find("transport='tcp'"), std::string::npos) << watch.xml;
  EXPECT_NE(watch.xml.find("tls='yes'"), std::string::npos) << watch.xml;
  EXPECT_EQ(watch.xml.find("socket="), std::string::npos) << watch.xml;
  EXPECT_NE(watch.in_clear.status, 0) << watch.in_clear.output;
  EXPECT_NE(watch.in_clear.output.find("TLS"), std::string::npos)
      << watch.in_clear.output << watch.xml;
  EXPECT_NE(watch.other_ca.status, 0) << watch.other_ca.output;
  EXPECT_FALSE(JobRuns());

  GuestWrite("vda", "write -P 0x5c 700M 256k");
  const auto inc = Backup();
  EXPECT_EQ(inc["points"][0]["kind"], "incremental") << inc.dump();
  EXPECT_LT(inc["points"][0]["bytes_read"].get<uint64_t>(), 2u << 20);
  ExpectPointEquals(inc, "vda", Oracle(image, "o2"));
  EXPECT_FALSE(JobRuns());
}

// Another CA, an expired client certificate, every NBD port taken, ssh
// refused, the host going down mid-backup: each fails with one sentence,
// publishes nothing and leaves no job on the host; the next backup is
// right.
TEST_F(RemoteHostTest, FailuresEndCleanWithOneSentence) {
  const std::string image = StartWeb();
  const auto first = Backup();
  ASSERT_EQ(Points(), 1u) << first.dump() << "\n"
                          << Sendense("list --vm web --json").output;

  const auto fails = [&](const std::string& setting,
                         const std::string& sentence) {
    SCOPED_TRACE(setting);
    ASSERT_EQ(Sendense("host set kvm1 " + setting).status, 0);
    const auto r = Sendense("backup --vm web --no-index");
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.output.find(sentence), std::string::npos) << r.output;
    EXPECT_EQ(ErrorLines(r.output), 1u) << r.output;
    EXPECT_EQ(Points(), 1u);
    EXPECT_FALSE(JobRuns());
  };
  fails("--nbd-tls " + Quote(host_->pki().other_client),
        "the TLS connection failed");
  fails("--nbd-tls " + Quote(host_->pki().expired_client),
        "the TLS connection failed");
  const int port = FreeTcpPort();
  BackgroundProcess squatter(
      "python3 -c 'import socket, time; s = socket.socket(); "
      "s.bind((\"127.0.0.1\", " +
      std::to_string(port) + ")); s.listen(); time.sleep(600)'");
  ASSERT_TRUE(Eventually(
      [&] {
        return !RunCommand("ss -Hltn sport = :" + std::to_string(port))
                    .output.empty();
      },
      10));
  fails("--nbd-tls " + Quote(host_->pki().client) + " --nbd-ports " +
            std::to_string(port) + "-" + std::to_string(port),
        "is taken or refused");
  squatter.Signal(SIGKILL);
  ASSERT_EQ(Sendense("host set kvm1 --nbd-ports 10809-10839 --libvirt " +
                     Quote(host_->UnreachableUri()))
                .status,
            0);
  auto r = Sendense("backup --vm web --no-index");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("cannot connect to libvirt at qemu+ssh://"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(ErrorLines(r.output), 1u) << r.output;
  r = Sendense("host check kvm1");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("Connection refused"), std::string::npos) << r.output;
  ASSERT_EQ(Sendense("host set kvm1 --libvirt " + Quote(uri_)).status, 0);

  // Down mid-backup: 512 MiB changed, the host killed once its job runs.
  GuestWrite("vda", "write -P 0x33 0 512M");
  const std::string log = dir_ / "down.log";
  BackgroundProcess run(std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) +
                            " backup --vm web --no-index",
                        log);
  const auto virsh_says = [&](const std::string& args, const char* text) {
    return RunCommand(Virsh(args)).output.find(text) != std::string::npos;
  };
  EXPECT_TRUE(Eventually(
      [&] { return virsh_says("domjobinfo " + domain_, "Backup"); }, 60));
  host_->KillAll();
  EXPECT_NE(run.Wait(), 0);
  const std::string said = Slurp(log);
  EXPECT_EQ(ErrorLines(said), 1u) << said;
  EXPECT_EQ(Points(), 1u);

  // The host back (its libvirt started again, on demand, and finding its
  // QEMU gone; the domain started): the next backup is right.
  EXPECT_TRUE(Eventually(
      [&] { return virsh_says("domstate " + domain_, "shut off"); }, 60));
  RunOrFail(Virsh("start " + domain_));
  EXPECT_FALSE(JobRuns());
  const auto next = Backup();
  ExpectPointEquals(next, "vda", Oracle(image, "after"));
  EXPECT_EQ(Points(), 2u);
  EXPECT_FALSE(JobRuns());
}

// A shut-off domain of the host: its images are read by a qemu-nbd that
// Sendense starts on the host over ssh, on TCP with the host's server
// certificates (clients verified); the first backup after the domain ran
// goes on from its libvirt checkpoint, the next from the bitmap the first
// left; a Sendense killed mid-backup leaves no qemu-nbd on the host.
TEST_F(RemoteHostTest, ShutOffDomainOverSshWithTlsNbd) {
  const std::string image = StartWeb();
  Backup();
  GuestWrite("vda", "write -P 0x61 600M 64k");
  RunOrFail(Virsh("destroy " + domain_ + " >/dev/null"));
  const auto off_oracle = [&](const std::string& name) {
    const std::string raw = dir_ / (name + ".raw");
    RunOrFail("qemu-img convert -O raw " + Quote(image) + " " + Quote(raw));
    return raw;
  };
  const auto servers = [] {
    return RunCommand(std::string("pgrep -a -u ") + RemoteHost::kUser +
                      " qemu-nbd")
        .output;
  };

  const std::string out = dir_ / "off.json";
  BackgroundProcess run(std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) +
                            " backup --vm web --no-index --json",
                        out);
  std::string server;
  CommandResult in_clear;
  if (Eventually([&] { return !(server = servers()).empty(); }, 60)) {
    run.Signal(SIGSTOP);
    const size_t p = server.find(" -p ") + 4;
    in_clear = RunCommand("nbdinfo --size nbd://127.0.0.1:" +
                          server.substr(p, server.find(' ', p) - p) +
                          "/sendense-vda 2>&1");
    run.Signal(SIGCONT);
  }
  ASSERT_EQ(run.Wait(), 0) << Slurp(out);
  EXPECT_NE(server.find("--tls-creds"), std::string::npos) << server;
  EXPECT_NE(server.find("verify-peer=on"), std::string::npos) << server;
  EXPECT_NE(server.find(host_->pki().server), std::string::npos) << server;
  EXPECT_NE(in_clear.status, 0) << in_clear.output;
  EXPECT_TRUE(Eventually([&] { return servers().empty(); }, 15)) << servers();
  const std::string said = Slurp(out);
  auto b = nlohmann::json::parse(said.substr(said.find("\n{") + 1));
  EXPECT_EQ(b["consistency"], "shut-off");
  EXPECT_EQ(b["points"][0]["kind"], "incremental") << b.dump();
  EXPECT_EQ(b["points"][0]["bytes_read"], 64 * 1024);
  ExpectPointEquals(b, "vda", off_oracle("off1"));

  // Changed while off: the bitmap the backup before left in the image.
  RunOrFail("qemu-io -f qcow2 -c 'write -q -P 0x62 5M 64k' " + Quote(image));
  b = Backup();
  EXPECT_EQ(b["points"][0]["kind"], "incremental") << b.dump();
  EXPECT_EQ(b["points"][0]["bytes_read"], 64 * 1024);
  ExpectPointEquals(b, "vda", off_oracle("off2"));
  EXPECT_EQ(Points(), 3u);

  // Sendense killed while the host serves the disk.
  BackgroundProcess killed(std::string(SENDENSE_BINARY) + " -r " +
                           Quote(repo_) + " backup --vm web --no-index");
  EXPECT_TRUE(Eventually([&] { return !servers().empty(); }, 60));
  killed.Signal(SIGKILL);
  killed.Wait();
  EXPECT_TRUE(Eventually([&] { return servers().empty(); }, 15)) << servers();
  EXPECT_EQ(Points(), 3u);
  b = Backup();
  ExpectPointEquals(b, "vda", off_oracle("off3"));
}

// The host through qemu+tls:// (its libvirt's TLS port, the client's
// certificate from the URI's pkipath): a full and an incremental equal to
// the disk; a shut-off domain refused in one sentence (qemu-nbd runs on a
// host only over ssh); restore --define onto the host: the disk uploaded
// through libvirt into a folder there, the domain defined there on it,
// and started.
TEST_F(RemoteHostTest, QemuTlsHostBacksUpAndRestoresOntoIt) {
  uri_ = host_->tls_uri();
  const std::string image = StartWeb();
  const auto hosts = SendenseJson("host list --json")["hosts"];
  ASSERT_EQ(hosts.size(), 1u);
  EXPECT_EQ(hosts[0]["reachable"], true) << hosts.dump();
  EXPECT_EQ(hosts[0]["remote"], true) << hosts.dump();
  const auto full = Backup();
  EXPECT_EQ(full["points"][0]["kind"], "full") << full.dump();
  ExpectPointEquals(full, "vda", Oracle(image, "o1"));
  GuestWrite("vda", "write -P 0x71 900M 128k");
  const auto inc = Backup();
  EXPECT_EQ(inc["points"][0]["kind"], "incremental") << inc.dump();
  EXPECT_LT(inc["points"][0]["bytes_read"].get<uint64_t>(), 2u << 20);
  const std::string oracle = Oracle(image, "o2");
  ExpectPointEquals(inc, "vda", oracle);
  EXPECT_FALSE(JobRuns());

  // The folder on the host: the host's user owns it, Sendense does not
  // write into it itself.
  const std::string to = dir_ / "on-host";
  std::filesystem::create_directories(to);
  host_->Give(to);
  ::chmod(to.c_str(), 0700);
  const std::string name = domain_ + "-back";
  auto r = Sendense("restore --vm web --define " + name + " --to images");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--to takes its absolute path"), std::string::npos)
      << r.output;
  const auto restored = SendenseJson("restore --vm web --define " + name +
                                     " --to " + Quote(to) + " --json");
  const std::string disk = to + "/" + name + "-vda.qcow2";
  EXPECT_EQ(restored["uri"], uri_) << restored.dump();
  EXPECT_EQ(restored["disks"][0]["target"], disk) << restored.dump();
  EXPECT_EQ(RunCommand("stat -c %U " + Quote(disk)).output,
            std::string(RemoteHost::kUser) + "\n");
  const auto cmp = RunCommand("qemu-img compare -F raw " + Quote(disk) + " " +
                              Quote(oracle));
  EXPECT_EQ(cmp.status, 0) << cmp.output;
  const std::string xml = RunOrFail(Virsh("dumpxml --inactive " + name));
  EXPECT_NE(xml.find("<source file='" + disk + "'"), std::string::npos) << xml;
  RunOrFail(Virsh("start " + name));
  RunOrFail(Virsh("destroy " + name + " >/dev/null"));
  r = Sendense("restore --vm web --define " + name + "-2 --to " +
               Quote(to + "/none"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("cannot write into " + to + "/none on the host"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(ErrorLines(r.output), 1u) << r.output;
  RunOrFail(Virsh("undefine " + name + " >/dev/null"));

  RunOrFail(Virsh("destroy " + domain_ + " >/dev/null"));
  r = Sendense("backup --vm web --no-index");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("through a host reached by qemu+ssh://"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(ErrorLines(r.output), 1u) << r.output;
}

}  // namespace
}  // namespace sendense::test
