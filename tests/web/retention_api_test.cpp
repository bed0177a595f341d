// Retention through the API over loopback: a VM's stored policy pruned by
// serve after each backup as a visible job, a dry run, a prune job with a
// policy in the body, DELETE of a point as a forget job, and the refusals.

#include <unistd.h>

#include "tests/web/api_fixture.h"

namespace sendense::test {
namespace {

class RetentionApiTest : public ApiTest {
 protected:
  // The source served on one socket path that outlives each server, so
  // that the source can change (qemu-nbd holds its write lock) between
  // backups of one VM.
  std::string uri() const { return "nbd+unix:///?socket=" + socket(); }
  std::string socket() const { return dir_ / "source.sock"; }

  // Changes the source, then backs the VM up through the API.
  json BackupAfter(const std::string& changes, const std::string& vm) {
    ChangeSource(changes);
    std::string command = QemuNbdCommand(source_, "b0");
    command.replace(command.find("{sock}"), 6, Quote(socket()));
    ::unlink(socket().c_str());
    BackgroundProcess nbd(command);
    EXPECT_TRUE(WaitForPath(socket()));
    const auto job = CallJson("POST", "/api/v1/vms/" + vm + "/backup", "", 202);
    return WaitForJob(job["id"]);
  }

  // The job of `kind` that serve queued after job `after` (a backup), once
  // it has ended.
  json FollowingJob(const std::string& kind, const json& after) {
    json found;
    const bool queued = Eventually([&] {
      const auto jobs = CallJson("GET", "/api/v1/jobs");
      for (const auto& j : jobs["jobs"]) {
        if (j["kind"] == kind && j["id"] > after["id"]) {
          found = j;
          return true;
        }
      }
      return false;
    });
    EXPECT_TRUE(queued) << "no " << kind << " job after job " << after["id"]
                        << ": " << RunCommand("cat " + log_).output;
    return queued ? WaitForJob(found["id"]) : json();
  }
};

TEST_F(RetentionApiTest, ServePrunesAfterEachBackupAsAJob) {
  Serve();
  MakeSource();
  CallJson("POST", "/api/v1/vms",
           json{{"name", "web1"},
                {"disks", {{"sda", uri()}}},
                {"bitmap", "b0"},
                {"retention", {{"keep_last", 2}}}}
               .dump(),
           201);
  EXPECT_EQ(CallJson("GET", "/api/v1/vms")["vms"][0]["retention"],
            json({{"keep_last", 2}}));
  for (int i = 0; i < 4; ++i) {
    const auto job = BackupAfter("-c 'write -q -P " + std::to_string(0x60 + i) +
                                     " " + std::to_string(i * 2) + "M 1M'",
                                 "web1");
    ASSERT_EQ(job["state"], "complete") << job.dump();
    // The prune that follows each backup, as its own job.
    EXPECT_EQ(FollowingJob("prune", job)["state"], "complete");
  }
  const auto backups = CallJson("GET", "/api/v1/backups?vm=web1")["backups"];
  ASSERT_EQ(backups.size(), 2u) << backups.dump();
  EXPECT_EQ(backups[0]["points"][0]["kind"], "full");
  const auto jobs = CallJson("GET", "/api/v1/jobs")["jobs"];
  int dropped = 0;
  for (const auto& j : jobs) {
    if (j["kind"] == "prune") {
      dropped += j["result"]["prunes"][0]["dropped"].size();
    }
  }
  EXPECT_EQ(dropped, 2);
}

TEST_F(RetentionApiTest, ServeCopiesEachBackupToTheVmsCopyTarget) {
  const std::string second = dir_ / "second";
  RunOrFail(std::string(SENDENSE_BINARY) + " -r " + Quote(second) + " init");
  Serve();
  MakeSource();
  CallJson("POST", "/api/v1/vms",
           json{{"name", "web1"},
                {"disks", {{"sda", uri()}}},
                {"bitmap", "b0"},
                {"copy_to", second}}
               .dump(),
           201);
  EXPECT_EQ(CallJson("GET", "/api/v1/vms")["vms"][0]["copy_to"], second);
  for (int i = 0; i < 2; ++i) {
    const auto job = BackupAfter("-c 'write -q -P " + std::to_string(0x70 + i) +
                                     " " + std::to_string(i * 2) + "M 1M'",
                                 "web1");
    ASSERT_EQ(job["state"], "complete") << job.dump();
    const auto done = FollowingJob("copy", job);
    EXPECT_EQ(done["state"], "complete") << done.dump();
    EXPECT_EQ(done["result"]["backups"].size(), 1u) << done.dump();
  }
  const auto backups = CallJson("GET", "/api/v1/backups?vm=web1")["backups"];
  ASSERT_EQ(backups.size(), 2u);
  for (const auto& b : backups) {
    EXPECT_EQ(b["copies"].size(), 1u) << b.dump();
    const std::string name = b["name"];
    EXPECT_EQ(
        RunCommand("qemu-img compare -q " +
                   Quote(repo_ + "/vms/web1/sda/" + name + ".qcow2") + " " +
                   Quote(second + "/vms/web1/sda/" + name + ".qcow2"))
            .status,
        0)
        << name;
  }
  // A copy on demand: nothing is missing.
  const auto job =
      CallJson("POST", "/api/v1/copies", json{{"to", second}}.dump(), 202);
  EXPECT_TRUE(WaitForJob(job["id"])["result"]["backups"].empty());
  EXPECT_EQ(Call("POST", "/api/v1/copies", "{}").status, 400);
  const auto capacity = CallJson("GET", "/api/v1/repository");
  EXPECT_GT(capacity["used_bytes"].get<uint64_t>(), 0u);
  EXPECT_TRUE(capacity["growth_bytes_per_day"].is_null())
      << "a repository minutes old has no daily growth: " << capacity;
  // With a backup a day and a half old, the rate is told.
  RunOrFail("sqlite3 " + Quote(repo_ + "/catalog.db") +
            " \"UPDATE backups SET finished_at = strftime('%Y-%m-%dT%H:%M:%SZ',"
            " 'now', '-36 hours') WHERE id = (SELECT MIN(id) FROM backups)\"");
  EXPECT_GT(CallJson("GET", "/api/v1/repository")["growth_bytes_per_day"]
                .get<uint64_t>(),
            0u);
}

// A copy target with its own policy is pruned after each copy to it, as a
// job of its own; the API prunes it on demand too.
TEST_F(RetentionApiTest, ServePrunesACopyTargetByItsOwnPolicy) {
  const std::string second = dir_ / "second";
  RunOrFail(std::string(SENDENSE_BINARY) + " -r " + Quote(second) + " init");
  ASSERT_EQ(
      Sendense("target add second --dir " + Quote(second) + " --keep-last 1")
          .status,
      0);
  Serve();
  MakeSource();
  CallJson("POST", "/api/v1/vms",
           json{{"name", "web1"},
                {"disks", {{"sda", uri()}}},
                {"bitmap", "b0"},
                {"copy_to", "second"}}
               .dump(),
           201);
  json copied;
  for (int i = 0; i < 2; ++i) {
    const auto job = BackupAfter("-c 'write -q -P " + std::to_string(0x70 + i) +
                                     " " + std::to_string(i * 2) + "M 1M'",
                                 "web1");
    ASSERT_EQ(job["state"], "complete") << job.dump();
    copied = FollowingJob("copy", job);
    ASSERT_EQ(copied["state"], "complete") << copied.dump();
  }
  const auto pruned = FollowingJob("prune", copied);
  EXPECT_EQ(pruned["target"], "second") << pruned.dump();
  EXPECT_EQ(pruned["state"], "complete") << pruned.dump();
  EXPECT_EQ(CallJson("GET", "/api/v1/backups?vm=web1")["backups"].size(), 2u);
  const auto there = nlohmann::json::parse(
      RunOrFail(std::string(SENDENSE_BINARY) + " -r " + Quote(second) +
                " list --vm web1 --json"))["vms"][0]["backups"];
  EXPECT_EQ(there.size(), 1u) << there.dump();

  const auto dry = CallJson(
      "POST", "/api/v1/targets/second/prune",
      json{{"dry_run", true}, {"policy", {{"keep_last", 1}}}}.dump(), 200);
  EXPECT_EQ(dry["prunes"][0]["points"].size(), 1u) << dry.dump();
  EXPECT_EQ(Call("POST", "/api/v1/targets/nowhere/prune", "{}").status, 404);
  EXPECT_EQ(Call("POST", "/api/v1/targets/second/prune", "[1]").status, 400);
}

TEST_F(RetentionApiTest, DryRunPruneJobAndDeleteOfAPoint) {
  Serve();
  MakeSource();
  CallJson("POST", "/api/v1/vms",
           json{{"name", "web1"}, {"disks", {{"sda", uri()}}}, {"bitmap", "b0"}}
               .dump(),
           201);
  for (int i = 0; i < 4; ++i) {
    const auto job = BackupAfter("-c 'write -q -P " + std::to_string(0x70 + i) +
                                     " " + std::to_string(i * 3) + "M 1M'",
                                 "web1");
    ASSERT_EQ(job["state"], "complete") << job.dump();
  }
  auto names = [&] {
    std::vector<std::string> out;
    const auto list = CallJson("GET", "/api/v1/backups?vm=web1");
    for (const auto& b : list["backups"]) {
      out.push_back(b["name"]);
    }
    return out;
  };
  const auto before = names();
  ASSERT_EQ(before.size(), 4u);
  // No policy stored and none given: refused.
  auto r = Call("POST", "/api/v1/vms/web1/prune", "{}");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(
      Call("POST", "/api/v1/vms/nope/prune", R"({"policy": {"keep_last": 1}})")
          .status,
      404);
  EXPECT_EQ(
      Call("POST", "/api/v1/vms/web1/prune", R"({"policy": {"keep_lots": 1}})")
          .status,
      400);
  const auto dry = CallJson("POST", "/api/v1/vms/web1/prune",
                            R"({"policy": {"keep_last": 3}, "dry_run": true})");
  EXPECT_EQ(dry["prunes"][0]["points"][3]["action"], "drop");
  EXPECT_EQ(names().size(), 4u);
  // DELETE: the newest and unknown points refused, a middle one dropped.
  EXPECT_EQ(Call("DELETE", "/api/v1/backups/web1/" + before[3]).status, 400);
  EXPECT_EQ(Call("DELETE", "/api/v1/backups/web1/2001-01-01T00.00.00Z").status,
            404);
  const auto forget =
      CallJson("DELETE", "/api/v1/backups/web1/" + before[1], "", 202);
  EXPECT_EQ(forget["kind"], "forget");
  EXPECT_EQ(WaitForJob(forget["id"])["state"], "complete");
  EXPECT_EQ(names(),
            (std::vector<std::string>{before[0], before[2], before[3]}));
  const auto job = CallJson("POST", "/api/v1/vms/web1/prune",
                            R"({"policy": {"keep_last": 1}})", 202);
  const auto done = WaitForJob(job["id"]);
  EXPECT_EQ(done["state"], "complete") << done.dump();
  EXPECT_EQ(done["result"]["prunes"][0]["dropped"].size(), 2u);
  EXPECT_EQ(names(), (std::vector<std::string>{before[3]}));
  const auto point = CallJson("GET", "/api/v1/backups/web1/" + before[3]);
  const std::string file = point["points"][0]["file"];
  RunOrFail("qemu-img check -U " + Quote(repo_ + "/" + file));
  // PUT stores a policy; {} clears it.
  EXPECT_EQ(CallJson("PUT", "/api/v1/vms/web1/retention",
                     R"({"keep_daily": 7})")["retention"],
            json({{"keep_daily", 7}}));
  EXPECT_EQ(CallJson("PUT", "/api/v1/vms/web1/retention", "{}")["retention"],
            json::object());
}

TEST_F(RetentionApiTest, VerifyAsAJobOnDemandAndOnASchedule) {
  MakeSource();
  {
    NbdServer server(dir_.path(), QemuNbdCommand(source_, "b0"));
    ASSERT_EQ(Sendense(BackupArgs(server)).status, 0);
  }
  ChangeSource("-c 'write -q -P 0x61 3M 1M'");
  {
    NbdServer server(dir_.path(), QemuNbdCommand(source_, "b0"));
    ASSERT_EQ(Sendense(BackupArgs(server, "--bitmap b0")).status, 0);
  }
  EXPECT_EQ(Sendense("serve --verify-every 0d").status, 1)
      << "a bad age is refused before anything runs";
  Serve("--no-index --verify-every 7d");
  // Never verified: the scheduler starts a verify job of the VM at once.
  json scheduled;
  ASSERT_TRUE(Eventually(
      [&] {
        const auto jobs = CallJson("GET", "/api/v1/jobs");
        for (const auto& j : jobs["jobs"]) {
          if (j["kind"] == "verify") {
            scheduled = j;
            return true;
          }
        }
        return false;
      },
      20));
  const auto done = WaitForJob(scheduled["id"]);
  EXPECT_EQ(done["state"], "complete") << done.dump();
  EXPECT_EQ(done["result"]["damaged"], 0);
  EXPECT_EQ(done["result"]["points"].size(), 2u);
  const auto backups = CallJson("GET", "/api/v1/backups?vm=vm1")["backups"];
  EXPECT_EQ(backups[1]["verify_state"], "ok");
  // Verified now: not again for 7 days.
  std::this_thread::sleep_for(std::chrono::seconds(6));
  int verifies = 0;
  const auto jobs = CallJson("GET", "/api/v1/jobs");
  for (const auto& j : jobs["jobs"]) {
    verifies += j["kind"] == "verify";
  }
  EXPECT_EQ(verifies, 1);
  // On demand, one point; bad bodies refused.
  EXPECT_EQ(Call("POST", "/api/v1/verify", R"({"point": "x"})").status, 400);
  const auto job =
      CallJson("POST", "/api/v1/verify",
               json{{"vm", "vm1"}, {"point", backups[0]["name"]}}.dump(), 202);
  const auto one = WaitForJob(job["id"]);
  EXPECT_EQ(one["result"]["points"].size(), 1u) << one.dump();
  const auto metrics = Call("GET", "/metrics").body;
  EXPECT_NE(metrics.find("sendense_points_damaged 0\n"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("sendense_points_unverified 0\n"), std::string::npos)
      << metrics;
  EXPECT_EQ(metrics.find("sendense_verify_last_timestamp_seconds 0\n"),
            std::string::npos)
      << metrics;
}

}  // namespace
}  // namespace sendense::test
