// The dashboard in a real browser: `sendense serve` with a mounted tree,
// a VM whose disk holds an ext4 guest (a 10,000-entry folder and a folder
// of names that are HTML and script) and 299 more VMs with a backup each,
// driven through headless Chromium by tests/web/dashboard_test.py.
// Screenshots go to $SENDENSE_SCREENSHOTS when set (docs/screenshots is
// made that way), else into the test's directory.

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "tests/support/pki.h"
#include "tests/web/api_fixture.h"

namespace sendense::test {
namespace {

constexpr int kVms = 300;

class DashboardTest : public ApiTest {
 protected:
  // The guest: files to download, a 10,000-entry folder, hostile names.
  void MakeGuest() {
    const std::string guest = dir_ / "guest";
    for (const char* d : {"etc", "home/alice", "data", "many", "hostile"}) {
      std::filesystem::create_directories(guest + "/" + d);
    }
    std::ofstream(guest + "/etc/motd") << "hello from the guest\n";
    std::ofstream(guest + "/home/alice/notes.txt") << "alice's notes\n";
    for (const char* name :
         {"<img src=x onerror=alert(1)>", "\"><script>window.__xss=1<\\script>",
          "a&b;'q\"", "javascript:alert(1)"}) {
      std::ofstream(guest + "/hostile/" + name) << name;
    }
    const std::string raw = dir_ / "disk.raw";
    RunOrFail("head -c 3M /dev/urandom > " + Quote(guest + "/data/blob.bin") +
              " && cd " + Quote(guest + "/many") +
              " && seq -w 1 10000 | xargs touch && truncate -s 96M " +
              Quote(raw) + " && echo 'start=2048, type=83' | sfdisk -q " +
              Quote(raw) + " && mkfs.ext4 -q -F -d " + Quote(guest) +
              " -E offset=1048576 " + Quote(raw) +
              " 95M && qemu-img convert -f raw -O qcow2 " + Quote(raw) + " " +
              Quote(source_) + " && qemu-img bitmap --add " + Quote(source_) +
              " b0 && rm " + Quote(raw));
  }

  // VMs vm001..vm296 with one small backup each (two at a time), one never
  // backed up, one whose backup failed and slow1, whose disk answers each
  // read after a second (a backup to cancel): with web1, kVms (and
  // web1@acme, a tenant's).
  void AddManyVms(const NbdServer& small, const NbdServer& slow) {
    const std::string cli =
        std::string(SENDENSE_BINARY) + " -r " + Quote(repo_);
    RunOrFail(
        cli + " vm add staging --disk " + Quote("sda=" + small.uri()) + " && " +
        cli + " vm add slow1 --disk " + Quote("sda=" + slow.uri()) + " && " +
        cli + " vm add db-legacy --disk 'sda=nbd+unix:///?socket=/gone.sock'" +
        " --schedule hourly && ! " + cli + " backup --vm db-legacy --no-index");
    std::string script;
    for (int half = 0; half < 2; ++half) {
      script += "(for i in $(seq " + std::to_string(1 + half) + " 2 " +
                std::to_string(kVms - 4) + "); do n=vm$(printf %03d $i); " +
                cli + " vm add $n --disk " + Quote("sda=" + small.uri()) +
                " >/dev/null && " + cli +
                " backup --vm $n --no-index >/dev/null || exit 1; done) & ";
    }
    RunOrFail(script + "wait %1 && wait %2");
  }
};

TEST_F(DashboardTest, AnAdminBacksUpBrowsesAndDownloadsInARealBrowser) {
  if (::access("/dev/fuse", R_OK | W_OK) != 0) {
    GTEST_SKIP() << "SKIPPED LOUDLY: /dev/fuse is not usable here";
  }
  if (RunCommand("test -x /usr/bin/chromium && test -x /usr/bin/chromedriver "
                 "&& /usr/bin/python3 -c 'import selenium'")
          .status != 0) {
    GTEST_SKIP() << "SKIPPED LOUDLY: chromium, chromium-driver or "
                    "python3-selenium is missing (scripts/setup.sh installs "
                    "them)";
  }
  MakeGuest();
  NbdServer small(dir_.path(), "nbdkit --exit-with-parent -U {sock} memory 1M");
  NbdServer slow(dir_.path(),
                 "nbdkit --exit-with-parent -U {sock} --filter=delay pattern "
                 "1G rdelay=1");
  AddManyVms(small, slow);
  const std::string mnt = dir_ / "mnt";
  std::filesystem::create_directories(mnt);
  Serve("--mount " + Quote(mnt));
  // Writable, so that the test can change the disk through it (the dirty
  // bitmap records what it writes).
  NbdServer server(dir_.path(), "qemu-nbd -f qcow2 -e 8 -t -B b0 -k {sock} " +
                                    Quote(source_));
  AddVm("web1", server);
  // A first point, so that the browser's backup is an incremental and the
  // file history has two versions.
  // A tenant whose restore user signs in: its own web1, backed up from
  // the same disk, at the same time.
  const std::string cli = std::string(SENDENSE_BINARY) + " -r " + Quote(repo_);
  RunOrFail(cli + " tenant add acme --quota 1GiB --max-vms 3 && " + cli +
            " vm add web1@acme --disk " + Quote("sda=" + server.uri()) +
            " && echo a-good-password | " + cli +
            " user add helpdesk --tenant acme --role restore && " + cli +
            // acme's points are encrypted with acme's own key (the
            // repository's are not): the pages mark them, its files read.
            " key set --tenant acme --key-file " + Quote(dir_ / "acme.key") +
            " && " + cli +
            " host add kvm9 --libvirt 'qemu+ssh://root@127.0.0.1:1/system'"
            " --nbd-tls " +
            Quote(MakeTestPki(dir_ / "pki").client) + " --max-jobs 2");
  // Two copy targets: "nas" takes the first points; "gone" lost its
  // repository after it was added (what an unmounted share looks like).
  const auto make_repo = [&](const std::string& name) {
    const std::string path = dir_ / name;
    RunOrFail(std::string(SENDENSE_BINARY) + " -r " + Quote(path) + " init");
    return path;
  };
  RunOrFail(cli + " target add nas --dir " + Quote(make_repo("nas")) +
            " --keep-daily 7 --keep-weekly 4 && " + cli +
            " target add gone --dir " + Quote(make_repo("gone")) +
            " && rm -rf " + Quote(dir_ / "gone") + " && mkdir " +
            Quote(dir_ / "gone"));
  const auto first = CallJson("POST", "/api/v1/vms/web1/backup", "", 202);
  const auto tenants =
      CallJson("POST", "/api/v1/vms/web1@acme/backup", "", 202);
  // Indexing boots an appliance (the first after boot also probes KVM).
  const auto first_job = WaitForJob(first["id"], 300);
  ASSERT_EQ(first_job["state"], "complete");
  // A suspicious-change report as indexing records one (tests/guest makes
  // real ones), so that the pages show a suspicious point to review.
  const std::string suspicious_point = first_job["backup"];
  WriteText(dir_ / "suspicion.sql",
            "INSERT INTO suspicions (backup_id, report) SELECT b.id, "
            "'{\"state\":\"suspicious\",\"reasons\":[\"20 ransom note(s) "
            "added (README-DECRYPT.txt, ...) in 20 folder(s)\"],"
            "\"changed_share\":0.8,\"ransom_notes\":20,\"ransom_renames\":"
            "1600,\"sampled\":40,\"high_entropy\":40,\"compared_with\":"
            "\"2026-12-01T00.00.00Z\"}' FROM backups b JOIN vms v ON v.id = "
            "b.vm_id WHERE v.name = 'web1' AND b.name = '" +
                suspicious_point + "';\n");
  RunOrFail("sqlite3 -cmd '.timeout 10000' " + Quote(repo_ + "/catalog.db") +
            " < " + Quote(dir_ / "suspicion.sql"));
  RunOrFail(cli + " copy --to nas");
  const auto tenant_job = WaitForJob(tenants["id"], 300);
  ASSERT_EQ(tenant_job["state"], "complete") << tenant_job.dump();
  // Free blocks of the guest filesystem change: the browser's backup
  // copies them and indexes (a backup that changed nothing would reuse the
  // index and end before the page shows it running).
  RunOrFail("qemu-io -f raw -c 'write -q -P 0x5a 94M 256k' " +
            Quote(server.uri()));

  const char* shots = std::getenv("SENDENSE_SCREENSHOTS");
  const auto run = RunCommand(
      "/usr/bin/python3 " +
      Quote(std::string(SENDENSE_SOURCE_DIR) + "/tests/web/dashboard_test.py") +
      " --base " + base_ + " --token-file " + Quote(repo_ + "/api-token") +
      " --mount " + Quote(mnt) + " --out " + Quote(dir_ / "browser") +
      " --vms " + std::to_string(kVms + 1) + " --suspicious-point " +
      suspicious_point + " --tenant-point " +
      tenant_job["backup"].get<std::string>() +
      (shots != nullptr ? " --screenshots " + Quote(shots) : ""));
  std::cout << run.output;
  EXPECT_EQ(run.status, 0) << "the browser test failed (screenshot "
                              "failure.png beside the others)";
  // The figures, in the test's log and XML.
  std::istringstream lines(run.output);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("FIGURE ", 0) == 0) {
      const auto space = line.find(' ', 7);
      RecordProperty(line.substr(7, space - 7), line.substr(space + 1));
    }
  }
  // The token never reached the log.
  std::ifstream log_file(log_);
  const std::string log((std::istreambuf_iterator<char>(log_file)), {});
  EXPECT_EQ(log.find(token_), std::string::npos) << "the token is in the log";
  // What indexing said of extent maps (files left unmapped read through
  // the appliance: seen now and then, not understood; see
  // docs/operations.md), for whoever reads this test's output.
  std::istringstream log_lines(log);
  for (std::string line; std::getline(log_lines, line);) {
    if (line.find("extent maps:") != std::string::npos) {
      std::cout << "serve said: " << line << "\n";
    }
  }
}

}  // namespace
}  // namespace sendense::test
