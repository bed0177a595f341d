// The HTTP API of `sendense serve` over real loopback HTTP (libcurl), with
// qemu-nbd and nbdkit as the VMs' disks.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/web/api_fixture.h"

namespace sendense::test {
namespace {

// A raw TCP connection to the API, for clients that misbehave.
class RawConnection {
 public:
  explicit RawConnection(const std::string& base) {
    const auto colon = base.rfind(':');
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(std::stoi(base.substr(colon + 1)));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr),
              0);
    timeval tv{10, 0};  // no test waits longer for the server
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawConnection() { ::close(fd_); }
  bool Send(const std::string& data) {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(data.size());
  }
  // Everything the server sends until it closes (or 10 s pass).
  std::string ReadToClose() {
    std::string all;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd_, buf, sizeof buf, 0)) > 0) {
      all.append(buf, n);
    }
    return all;
  }

 private:
  int fd_ = -1;
};

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

TEST_F(ApiTest, HealthIsOpenEverythingElseNeedsTheToken) {
  Serve();
  EXPECT_EQ(Http("GET", base_ + "/api/v1/health").status, 200);
  EXPECT_EQ(Http("GET", base_ + "/api/v1/vms").status, 401);
  EXPECT_EQ(Http("GET", base_ + "/metrics").status, 401);
  EXPECT_EQ(Http("GET", base_ + "/api/v1/vms",
                 {"Authorization: Bearer " + token_ + "x"})
                .status,
            401);
  EXPECT_EQ(
      Http("GET", base_ + "/api/v1/vms", {"Authorization: " + token_}).status,
      401);
  const auto ok = Call("GET", "/api/v1/vms");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(json::parse(ok.body)["vms"], json::array());
  EXPECT_EQ(Call("GET", "/api/v1/nothing").status, 404);
  // A path that takes other methods says which.
  const auto wrong = Call("PATCH", "/api/v1/vms");
  EXPECT_EQ(wrong.status, 405) << wrong.body;
  EXPECT_NE(wrong.body.find("GET, POST"), std::string::npos) << wrong.body;
}

TEST_F(ApiTest, VmsAddListRemoveWithClearErrors) {
  Serve();
  MakeSource();
  NbdServer server(dir_.path(), QemuNbdCommand(source_, "b0"));
  AddVm("web1", server);
  auto dup =
      Call("POST", "/api/v1/vms",
           json{{"name", "web1"}, {"disks", {{"sda", server.uri()}}}}.dump());
  EXPECT_EQ(dup.status, 409) << dup.body;
  auto bad = Call("POST", "/api/v1/vms",
                  json{{"name", "web2"},
                       {"disks", {{"sda", server.uri()}}},
                       {"schedule", "sometimes"}}
                      .dump());
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(json::parse(bad.body)["error"].get<std::string>().find("schedule"),
            std::string::npos);
  EXPECT_EQ(Call("POST", "/api/v1/vms", "{not json").status, 400);
  const auto list = CallJson("GET", "/api/v1/vms");
  ASSERT_EQ(list["vms"].size(), 1u);
  EXPECT_EQ(list["vms"][0]["disks"]["sda"], server.uri());
  CallJson("DELETE", "/api/v1/vms/web1");
  EXPECT_EQ(Call("DELETE", "/api/v1/vms/web1").status, 404);
  // The CLI sees the same configuration.
  EXPECT_EQ(Sendense("vm list").output, "No VMs.\n");
}

TEST_F(ApiTest, BackupThroughTheApiIsAJobAndLandsInTheCatalog) {
  Serve();
  MakeSource();
  NbdServer server(dir_.path(), QemuNbdCommand(source_, "b0"));
  AddVm("web1", server);
  const auto job = CallJson("POST", "/api/v1/vms/web1/backup", "", 202);
  const json done = WaitForJob(job["id"]);
  ASSERT_EQ(done["state"], "complete") << done.dump();
  EXPECT_GT(done["bytes_done"].get<uint64_t>(), 0u);
  EXPECT_GT(done["rate"].get<double>(), 0) << "the copy's average rate";
  // The rate's time: the copy alone, which the whole job contains.
  ASSERT_TRUE(done["copy_seconds"].is_number()) << done.dump();
  EXPECT_GT(done["copy_seconds"].get<double>(), 0) << done.dump();
  EXPECT_NEAR(done["rate"].get<double>() * done["copy_seconds"].get<double>(),
              done["bytes_done"].get<double>(), 1.0)
      << done.dump();
  EXPECT_EQ(done["phase"], "done") << done.dump();
  const std::string name = done["backup"];
  const auto backups = CallJson("GET", "/api/v1/backups?vm=web1");
  ASSERT_EQ(backups["backups"].size(), 1u);
  EXPECT_EQ(backups["backups"][0]["name"], name);
  const auto detail = CallJson("GET", "/api/v1/backups/web1/" + name);
  EXPECT_EQ(detail["points"][0]["disk"], "sda");
  EXPECT_EQ(detail["guest_index"]["state"], "not-indexed")
      << "serve --no-index: files/ is empty because nothing indexed it";
  EXPECT_EQ(Call("GET", "/api/v1/backups/web1/nope").status, 404);
  const auto jobs = CallJson("GET", "/api/v1/jobs");
  EXPECT_EQ(jobs["jobs"].size(), 1u);
  CallJson("POST", "/api/v1/hosts",
           R"({"name": "kvm1", "libvirt": "qemu:///system"})", 201);
  const auto metrics = Call("GET", "/metrics");
  // Every host is listed, with its VMs' backup jobs (none here).
  EXPECT_NE(metrics.body.find(
                "sendense_host_jobs{host=\"kvm1\",state=\"running\"} 0"),
            std::string::npos)
      << metrics.body;
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("sendense_jobs{state=\"complete\"} 1"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("sendense_filesystem_free_bytes "),
            std::string::npos);
}

TEST_F(ApiTest, ScheduledVmIsBackedUpByItself) {
  Serve();
  MakeSource();
  NbdServer server(dir_.path(), QemuNbdCommand(source_, "b0"));
  CallJson("POST", "/api/v1/vms",
           json{{"name", "web1"},
                {"disks", {{"sda", server.uri()}}},
                {"bitmap", "b0"},
                {"schedule", "every@1h"}}
               .dump(),
           201);
  // Never backed up, so due now: the scheduler (5 s period) starts it.
  json jobs;
  Eventually(
      [&] {
        jobs = CallJson("GET", "/api/v1/jobs");
        return !jobs["jobs"].empty();
      },
      15);
  ASSERT_EQ(jobs["jobs"].size(), 1u) << "no scheduled backup within 15 s";
  const json done = WaitForJob(jobs["jobs"][0]["id"]);
  EXPECT_EQ(done["state"], "complete") << done.dump();
  // Backed up now: not due again for an hour.
  std::this_thread::sleep_for(std::chrono::seconds(6));
  EXPECT_EQ(CallJson("GET", "/api/v1/jobs")["jobs"].size(), 1u);
  EXPECT_EQ(CallJson("GET", "/api/v1/backups?vm=web1")["backups"].size(), 1u);
}

TEST_F(ApiTest, CancelledJobLeavesNothingBehind) {
  Serve();
  // A slow disk: every read waits, so the job is still running when
  // cancelled.
  NbdServer slow(dir_.path(),
                 "nbdkit -f -U {sock} --filter=delay random 256M "
                 "delay-read=300ms");
  AddVm("slow", slow);
  const auto job = CallJson("POST", "/api/v1/vms/slow/backup", "", 202);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const json live = CallJson(
      "GET", "/api/v1/jobs/" + std::to_string(job["id"].get<int64_t>()));
  EXPECT_EQ(live["state"], "running") << live.dump();
  EXPECT_EQ(live["bytes_total"], 256u << 20) << "progress is live";
  EXPECT_EQ(live["phase"], "copying") << live.dump();
  // One backup of a VM at a time: a second request names the running job.
  const auto again = Call("POST", "/api/v1/vms/slow/backup");
  EXPECT_EQ(again.status, 409) << again.body;
  const json dup = json::parse(again.body);
  EXPECT_EQ(dup["job"]["id"], job["id"]) << again.body;
  EXPECT_NE(dup["error"].get<std::string>().find("already queued or running"),
            std::string::npos);
  EXPECT_EQ(CallJson("GET", "/api/v1/jobs")["jobs"].size(), 1u);
  CallJson(
      "POST",
      "/api/v1/jobs/" + std::to_string(job["id"].get<int64_t>()) + "/cancel",
      "", 202);
  const json done = WaitForJob(job["id"]);
  EXPECT_EQ(done["state"], "cancelled") << done.dump();
  EXPECT_TRUE(RepoFiles().empty());
  EXPECT_EQ(
      Call("POST", "/api/v1/jobs/" + std::to_string(job["id"].get<int64_t>()) +
                       "/cancel")
          .status,
      409);
}

// The descriptors of the serve process (not of the shell that started it).
size_t OpenDescriptors(const std::string& repo) {
  const std::string pids =
      RunCommand("pgrep -f -- " + Quote(repo + " serve")).output;
  std::istringstream in(pids);
  std::string pid;
  while (in >> pid) {
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/" + pid + "/exe", ec);
    if (!ec && exe.filename() == "sendense") {
      const std::filesystem::directory_iterator fds("/proc/" + pid + "/fd");
      return static_cast<size_t>(
          std::distance(fds, std::filesystem::directory_iterator{}));
    }
  }
  ADD_FAILURE() << "no serve process among: " << pids;
  return 0;
}

// A source that accepts and hangs up fails each backup; a long-running
// serve must not keep a descriptor (or an NBD handle) per failure. Serve
// runs under LeakSanitizer (preloaded) where the runtime is installed: a
// leak makes it exit 23.
TEST_F(ApiTest, FailedConnectionsLeaveNoDescriptorsBehind) {
  const std::string lsan = "/usr/lib/x86_64-linux-gnu/liblsan.so.0";
#if defined(SENDENSE_SANITIZED)
  // Built with AddressSanitizer: its own leak checker runs at exit.
  const bool leak_check = true;
  env_ = "env ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=exitcode=23 ";
#elif defined(SENDENSE_THREAD_SANITIZED)
  // ThreadSanitizer cannot run beside LeakSanitizer: descriptors only.
  const bool leak_check = false;
#else
  const bool leak_check = ::access(lsan.c_str(), R_OK) == 0;
  if (leak_check) {
    env_ = "env LD_PRELOAD=" + lsan + " LSAN_OPTIONS=exitcode=23 ";
  } else {
    std::cerr << "NOTE: " << lsan << " is missing: descriptors only\n";
  }
#endif
  Serve();
  NbdServer hangup(dir_.path(),
                   "python3 -c 'import socket,sys\n"
                   "s=socket.socket(socket.AF_UNIX)\n"
                   "s.bind(sys.argv[1]); s.listen(64)\n"
                   "while True: s.accept()[0].close()' {sock}");
  AddVm("broken", hangup);
  auto fail_once = [&] {
    const auto job = CallJson("POST", "/api/v1/vms/broken/backup", "", 202);
    const json done = WaitForJob(job["id"]);
    ASSERT_EQ(done["state"], "failed") << done.dump();
  };
  for (int i = 0; i < 5; ++i) {
    fail_once();  // warms what is opened once (pooled catalog connections)
  }
  const size_t before = OpenDescriptors(repo_);
  for (int i = 0; i < 30; ++i) {
    fail_once();
  }
  // A leak adds one per failure (30); sockets of the API's own requests
  // closing may come and go, and the pool may open one more set of catalog
  // connections (five: catalog, guest index, VM configs, accounts, audit
  // log; two descriptors each) when requests overlap a job.
  EXPECT_TRUE(
      Eventually([&] { return OpenDescriptors(repo_) <= before + 12; }, 3))
      << "30 failed connections grew serve's descriptors from " << before
      << " to " << OpenDescriptors(repo_);
  serve_->Signal(SIGTERM);
  const int status = serve_->Wait();
  const std::string log = RunCommand("tail -40 " + Quote(log_)).output;
  if (log.find("LeakSanitizer has encountered a fatal error") !=
      std::string::npos) {
    // LSan could not stop the world here (ptrace forbidden): the
    // descriptor check above still holds, the leak check cannot run.
    std::cerr << "NOTE: LeakSanitizer cannot run on this machine: " << log;
    return;
  }
  EXPECT_EQ(status, 0) << (leak_check ? "LeakSanitizer found leaks: " : "")
                       << log;
}

TEST_F(ApiTest, LogLinesCarryPrioritiesForTheJournal) {
  // Under systemd, stderr is the journal stream named by JOURNAL_STREAM.
  { std::ofstream create(log_); }
  struct stat st {};
  ASSERT_EQ(::stat(log_.c_str(), &st), 0);
  env_ = "env JOURNAL_STREAM=" + std::to_string(st.st_dev) + ":" +
         std::to_string(st.st_ino) + " ";
  Serve();
  EXPECT_EQ(Call("POST", "/api/v1/vms/ghost/backup").status, 404);
  serve_->Signal(SIGTERM);
  EXPECT_EQ(serve_->Wait(), 0);
  std::ifstream in(log_);
  const std::string log((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(log.find("<6>API listening on http://127.0.0.1:"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("sendense: "), std::string::npos)
      << "the journal adds the name itself: " << log;
}

TEST_F(ApiTest, SigtermDuringAJobStopsCleanly) {
  Serve();
  NbdServer slow(dir_.path(),
                 "nbdkit -f -U {sock} --filter=delay random 256M "
                 "delay-read=300ms");
  AddVm("slow", slow);
  CallJson("POST", "/api/v1/vms/slow/backup", "", 202);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  serve_->Signal(SIGTERM);
  EXPECT_EQ(serve_->Wait(), 0);
  EXPECT_TRUE(RepoFiles().empty());
  const auto list = SendenseJson("list --json");
  ASSERT_EQ(list["vms"][0]["backups"].size(), 1u);
  EXPECT_EQ(list["vms"][0]["backups"][0]["state"], "failed");
}

TEST_F(ApiTest, LimitsAndMaliciousPaths) {
  Serve();
  // Header and body limits.
  const auto big_header =
      Call("GET", "/api/v1/vms", "", {"X-Pad: " + std::string(20000, 'a')});
  EXPECT_EQ(big_header.status, 431);
  const auto big_body = Call("POST", "/api/v1/vms", std::string(2 << 20, 'x'));
  EXPECT_EQ(big_body.status, 413);
  // Paths that try to leave a point never succeed.
  for (const char* path :
       {"/api/v1/backups/web1/x/files/sda1/../../../etc/passwd",
        "/api/v1/backups/web1/x/files/sda1/%2e%2e/%2e%2e/etc/passwd",
        "/api/v1/backups/web1/x/files/sda1/..%2f..%2fetc%2fpasswd",
        "/api/v1/backups/web1/x/download/sda1/etc%00passwd",
        "/api/v1/backups/web1/x/download/sda1//etc/passwd",
        "/api/v1/backups/%2e%2e/x/files/sda1/etc"}) {
    const auto r = Call("GET", path);
    EXPECT_TRUE(r.status == 400 || r.status == 404) << path << " " << r.status;
    EXPECT_NE(json::parse(r.body, nullptr, false).value("error", ""), "")
        << path;
  }
  // A NUL inside a text of a body is refused, never cut at the NUL.
  for (const std::string body :
       {R"({"vm": "web1", "target": "/tmp/x\u0000.raw"})",
        R"({"vm": "web1\u0000x", "target": "nbd://127.0.0.1:1/"})"}) {
    const auto r = Call("POST", "/api/v1/restores", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_NE(r.body.find("NUL byte"), std::string::npos) << r.body;
  }
  EXPECT_FALSE(std::filesystem::exists("/tmp/x"));
}

TEST_F(ApiTest, ConnectionRequestAndIdleLimits) {
  Serve("--no-index --max-connections 2 --request-timeout 1 --idle-timeout 2");
  {
    // Two idle connections fill the server: the third is turned away.
    RawConnection a(base_), b(base_);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    RawConnection c(base_);
    const std::string reply = c.ReadToClose();
    EXPECT_EQ(reply.rfind("HTTP/1.1 503", 0), 0u) << reply;
    EXPECT_NE(reply.find("too many connections"), std::string::npos);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  {
    // A client that sends a header byte every 300 ms (slowloris) is cut
    // off once the request time is up, though no single wait is long.
    RawConnection slow(base_);
    const auto start = std::chrono::steady_clock::now();
    slow.Send("GET /api/v1/health HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 20 && slow.Send("X"); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      if (SecondsSince(start) > 2) {
        break;
      }
    }
    const std::string reply = slow.ReadToClose();
    EXPECT_EQ(reply.rfind("HTTP/1.1 408", 0), 0u) << reply;
    EXPECT_LT(SecondsSince(start), 4);
  }
  {
    // A connection that says nothing is closed after the idle time.
    RawConnection idle(base_);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(idle.ReadToClose(), "");
    EXPECT_GT(SecondsSince(start), 1.5);
    EXPECT_LT(SecondsSince(start), 5);
  }
  {
    // Keep-alive: two requests on one connection, then idle close.
    RawConnection keep(base_);
    const std::string get = "GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n";
    keep.Send(get);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    keep.Send(get);
    const std::string replies = keep.ReadToClose();
    EXPECT_EQ(std::count(replies.begin(), replies.end(), '{'), 2) << replies;
  }
  // After all that, the server still answers.
  EXPECT_EQ(Http("GET", base_ + "/api/v1/health").status, 200);
}

// Refusals are answers, not resets: a request sent at once to a full
// server gets its 503, and a long chunked body gets its 413, every time
// (a close with unread bytes would reset the reply away).
TEST_F(ApiTest, FullServerAndLongBodiesAreAnsweredNotReset) {
  Serve("--no-index --max-connections 2");
  {
    RawConnection a(base_), b(base_);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    for (int i = 0; i < 20; ++i) {
      const auto reply = Http("GET", base_ + "/api/v1/health");
      ASSERT_EQ(reply.status, 503) << "try " << i;
      EXPECT_NE(reply.body.find("too many connections"), std::string::npos);
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // The curl CLI, as an admin would send it: it stops at the first failed
  // write, so a reset shows as status 000.
  const std::string big = dir_ / "big.json";
  RunOrFail("head -c 5M /dev/zero > " + Quote(big));
  for (int i = 0; i < 5; ++i) {
    const std::string status = RunOrFail(
        "curl -s -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: "
        "chunked' -H 'Authorization: Bearer " +
        token_ + "' --data-binary @" + Quote(big) + " " + base_ +
        "/api/v1/vms || true");
    ASSERT_EQ(status, "413") << "try " << i;
  }
  EXPECT_EQ(Http("GET", base_ + "/api/v1/health").status, 200);
}

// One serve per repository: a second would adopt the first's exports and
// end them on exit. It refuses to start, naming the first's pid.
TEST_F(ApiTest, ASecondServeOnTheRepositoryRefusesToStart) {
  Serve();
  const auto second =
      RunCommand(std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) +
                 " serve --no-index --listen 127.0.0.1:0");
  EXPECT_EQ(second.status, 1) << second.output;
  EXPECT_TRUE(std::regex_search(
      second.output,
      std::regex("sendense serve already runs on .* \\(pid [0-9]+\\)")))
      << second.output;
  EXPECT_EQ(Http("GET", base_ + "/api/v1/health").status, 200);
}

// At any count: with far more idle connections than the limit (200 over
// 128, and more still while they drain), every new request is answered 503.
TEST_F(ApiTest, RefusalsAreAnswersAtAnyCount) {
  Serve("--no-index");
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 200; ++i) {
    idle.push_back(std::make_unique<RawConnection>(base_));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (int i = 0; i < 50; ++i) {
    const auto reply = Http("GET", base_ + "/api/v1/health");
    ASSERT_EQ(reply.status, 503) << "try " << i << ": " << reply.error;
    EXPECT_EQ(reply.headers.at("retry-after"), "1");
  }
  idle.clear();
  EXPECT_TRUE(Eventually(
      [&] { return Http("GET", base_ + "/api/v1/health").status == 200; }));
}

// The whole appliance: serve with the tree, a backup through the API that
// appears in the tree with its guest files, and downloads of a file (with
// a range) and of a folder as tar and zip through a real appliance.
TEST_F(ApiTest, BackupAppearsInTheTreeAndGuestFilesDownload) {
  if (::access("/dev/fuse", R_OK | W_OK) != 0) {
    GTEST_SKIP() << "SKIPPED LOUDLY: /dev/fuse is not usable here";
  }
  const std::string guest = dir_ / "guest";
  std::filesystem::create_directories(guest + "/etc/app");
  {
    std::ofstream(guest + "/etc/app/config.ini") << "[main]\nkey=value\n";
    std::ofstream(guest + "/etc/motd") << "hello from the guest\n";
    std::filesystem::create_directories(guest + "/data");
    std::ofstream probe(guest + "/data/probe.txt");
    char line[32];
    for (int i = 0; i < 16384; ++i) {
      std::snprintf(line, sizeof line, "damage-probe-%08d\n", i);
      probe << line;  // 352 KiB of lines found again in the stored point
    }
  }
  const std::string raw = dir_ / "disk.raw";
  RunOrFail("truncate -s 64M " + Quote(raw) +
            " && echo 'start=2048, type=83' | sfdisk -q " + Quote(raw) +
            " && mkfs.ext4 -q -F -d " + Quote(guest) + " -E offset=1048576 " +
            Quote(raw) + " 63M && qemu-img convert -f raw -O qcow2 " +
            Quote(raw) + " " + Quote(source_));
  const std::string mnt = dir_ / "mnt";
  std::filesystem::create_directories(mnt);
  Serve("--mount " + Quote(mnt));
  NbdServer server(dir_.path(), QemuNbdCommand(source_, ""));
  CallJson("POST", "/api/v1/vms",
           json{{"name", "web1"}, {"disks", {{"sda", server.uri()}}}}.dump(),
           201);
  const auto job = CallJson("POST", "/api/v1/vms/web1/backup", "", 202);
  const json done = WaitForJob(job["id"]);
  ASSERT_EQ(done["state"], "complete") << done.dump();
  const std::string name = done["backup"];

  // In the tree, with its guest files, within a couple of seconds.
  const std::string motd = mnt + "/web1/" + name + "/files/sda1/etc/motd";
  ASSERT_TRUE(WaitForPath(motd, 5)) << motd;
  std::ifstream in(motd);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "hello from the guest");

  const auto detail = CallJson("GET", "/api/v1/backups/web1/" + name);
  EXPECT_EQ(detail["guest_index"]["state"], "indexed") << detail.dump();
  EXPECT_EQ(detail["guest_index"]["filesystems"], 1);

  // The folder listing and stat from the index.
  const std::string files = "/api/v1/backups/web1/" + name + "/files/sda1";
  const auto etc = CallJson("GET", files + "/etc");
  EXPECT_EQ(etc["type"], "dir");
  ASSERT_EQ(etc["children"].size(), 2u);
  EXPECT_FALSE(etc.contains("next_after"));
  // Paged: one at a time, the second page from the first's next_after.
  const auto first = CallJson("GET", files + "/etc?limit=1");
  ASSERT_EQ(first["children"].size(), 1u);
  const auto second = CallJson(
      "GET", files + "/etc?limit=1&after=" + first["next_after"].dump());
  ASSERT_EQ(second["children"].size(), 1u);
  EXPECT_FALSE(second.contains("next_after"));
  EXPECT_LT(etc["children"][0]["name"].get<std::string>(),
            etc["children"][1]["name"].get<std::string>())
      << "in name order";
  EXPECT_EQ(first["children"][0]["name"], etc["children"][0]["name"]);
  EXPECT_EQ(second["children"][0]["name"], etc["children"][1]["name"]);
  for (const char* bad :
       {"?limit=0", "?limit=10001", "?after=x", "?limit=2x"}) {
    EXPECT_EQ(Call("GET", files + "/etc" + bad).status, 400) << bad;
  }

  // A file, whole and by range.
  const std::string dl = "/api/v1/backups/web1/" + name + "/download/sda1";
  const auto whole = Call("GET", dl + "/etc/motd");
  EXPECT_EQ(whole.status, 200);
  EXPECT_EQ(whole.body, "hello from the guest\n");
  const auto part = Call("GET", dl + "/etc/motd", "", {"Range: bytes=6-9"});
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body, "from");
  EXPECT_EQ(part.headers.at("content-range"), "bytes 6-9/21");
  EXPECT_EQ(Call("GET", dl + "/etc/motd", "", {"Range: bytes=99-"}).status,
            416);
  EXPECT_EQ(Call("GET", dl + "/etc/motd?format=zip").status, 400)
      << "a file is not zipped";
  {
    // Read straight from the chain through its extent map: no appliance.
    EXPECT_EQ(CallJson("GET", files + "/etc/motd")["read_path"], "mapped");
    std::ifstream log_file(log_);
    const std::string log((std::istreambuf_iterator<char>(log_file)), {});
    EXPECT_EQ(log.find("starting a guest appliance for backup"),
              std::string::npos)
        << log;
    const auto metrics = Call("GET", "/metrics").body;
    EXPECT_NE(metrics.find("sendense_guest_file_opens_total{path=\"mapped\"} "),
              std::string::npos)
        << metrics;
    EXPECT_EQ(
        metrics.find("sendense_guest_file_opens_total{path=\"mapped\"} 0\n"),
        std::string::npos)
        << metrics;
  }

  // A one-time link, for a browser: the token buys it, it works without
  // the token, once, for its target only.
  {
    const auto link = CallJson("POST", "/api/v1/download-links",
                               json{{"path", dl + "/etc/motd"}}.dump(), 201);
    const std::string url = link["url"];
    EXPECT_EQ(link["expires_in_seconds"], 60);
    EXPECT_EQ(url.find(token_), std::string::npos);
    const auto got = Http("GET", base_ + url, {});
    EXPECT_EQ(got.status, 200);
    EXPECT_EQ(got.body, "hello from the guest\n");
    EXPECT_NE(got.headers.at("content-disposition").find("attachment"),
              std::string::npos);
    const auto again = Http("GET", base_ + url, {});
    EXPECT_EQ(again.status, 404);
    EXPECT_NE(again.body.find("used or expired"), std::string::npos)
        << again.body;
    EXPECT_EQ(
        Http("GET", base_ + "/api/v1/downloads/" + std::string(32, '0'), {})
            .status,
        404);
    const auto folder =
        CallJson("POST", "/api/v1/download-links",
                 json{{"path", dl + "/etc?format=zip"}}.dump(), 201);
    EXPECT_EQ(Http("GET", base_ + folder["url"].get<std::string>(), {})
                  .headers.at("content-type"),
              "application/zip");
    for (const std::string bad :
         {"{}", R"({"path": "/api/v1/vms"})", R"({"path": 7})",
          R"({"path": "/api/v1/backups/web1/x/files/sda1/etc"})"}) {
      EXPECT_EQ(Call("POST", "/api/v1/download-links", bad).status, 400) << bad;
    }
    EXPECT_EQ(Call("POST", "/api/v1/download-links",
                   json{{"path", dl + "/etc/nope"}}.dump())
                  .status,
              404);
    EXPECT_EQ(Http("POST", base_ + "/api/v1/download-links",
                   {"Content-Type: application/json"},
                   json{{"path", dl + "/etc/motd"}}.dump())
                  .status,
              401);
  }

  // A folder as tar and as zip, unpacked by the usual tools.
  for (const std::string format : {"tar", "zip"}) {
    const auto archive = Call("GET", dl + "/etc?format=" + format);
    ASSERT_EQ(archive.status, 200) << archive.body;
    const std::string file = dir_ / ("etc." + format);
    std::ofstream(file, std::ios::binary) << archive.body;
    const std::string out = dir_ / ("out-" + format);
    std::filesystem::create_directories(out);
    RunOrFail(format == "tar"
                  ? "tar -xf " + Quote(file) + " -C " + Quote(out)
                  : "cd " + Quote(out) + " && python3 -m zipfile -e " +
                        Quote(file) + " .");
    RunOrFail("diff -r " + Quote(guest + "/etc") + " " + Quote(out + "/etc"));
  }

  // A damaged file inside a folder download cuts the transfer off: no
  // whole-looking archive with the file zeroed or empty, and the point is
  // marked damaged.
  const std::string point = RunOrFail(
      "grep -rl --include='*.qcow2' damage-probe-00008000 " + Quote(repo_));
  const std::string stored = point.substr(0, point.find('\n'));
  ASSERT_FALSE(stored.empty());
  const std::string offset = RunOrFail("grep -boa damage-probe-00008000 " +
                                       Quote(stored) + " | cut -d: -f1");
  RunOrFail("printf X | dd of=" + Quote(stored) +
            " bs=1 seek=" + std::to_string(std::stoull(offset) + 3) +
            " conv=notrunc status=none");
  for (const std::string format : {"tar", "zip"}) {
    const auto archive = Call("GET", dl + "/data?format=" + format);
    EXPECT_EQ(archive.status, 200) << "the headers went out before the read";
    EXPECT_FALSE(archive.whole) << format << ": a damaged archive looked whole";
    const std::string file = dir_ / ("damaged." + format);
    std::ofstream(file, std::ios::binary) << archive.body;
    const auto listed =
        RunCommand(format == "tar" ? "tar -tvf " + Quote(file)
                                   : "python3 -m zipfile -t " + Quote(file));
    EXPECT_NE(listed.status, 0) << format << " took it for whole:\n"
                                << listed.output;
  }
  const auto damaged = CallJson("GET", "/api/v1/backups/web1/" + name);
  EXPECT_EQ(damaged["verify_state"], "damaged") << damaged.dump();
}

}  // namespace
}  // namespace sendense::test
