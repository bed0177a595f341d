// Restores and exports through the API over loopback: a restore is a job
// whose file lands in serve's --restore-dir (elsewhere: refused); serve's
// exports are served, started again when their server is killed, stopped
// with serve and started again with it, and ended by DELETE.

#include <signal.h>

#include <filesystem>

#include "tests/web/api_fixture.h"

namespace sendense::test {
namespace {

class RestoreApiTest : public ApiTest {
 protected:
  void TearDown() override {
    RunCommand("pkill -KILL -f " + Quote(repo_ + "/exports/"));
    ApiTest::TearDown();
  }
  void Restart() {
    serve_->Signal(SIGTERM);
    EXPECT_EQ(serve_->Wait(), 0);
    base_.clear();
    log_ = dir_ / "serve2.log";
  }
  json Export(int64_t id) {
    return CallJson("GET", "/api/v1/exports/" + std::to_string(id));
  }
};

TEST_F(RestoreApiTest, RestoreJobsAndSupervisedExports) {
  const std::string restores = dir_ / "restores";
  std::filesystem::create_directory(restores);
  MakeSource();
  {
    NbdServer server(dir_.path(), QemuNbdCommand(source_, "b0"));
    ASSERT_EQ(Sendense(BackupArgs(server)).status, 0);
  }
  const std::string oracle = SnapshotSource("oracle");
  Serve("--no-index --restore-dir " + Quote(restores));

  const std::string target = restores + "/vm1.raw";
  const auto job =
      CallJson("POST", "/api/v1/restores",
               json{{"vm", "vm1"}, {"target", target}}.dump(), 202);
  EXPECT_EQ(job["kind"], "restore");
  const auto done = WaitForJob(job["id"]);
  ASSERT_EQ(done["state"], "complete") << done.dump();
  EXPECT_GT(done["result"]["data_bytes"].get<uint64_t>(), 0u);
  EXPECT_EQ(
      RunCommand("qemu-img compare " + Quote(target) + " " + Quote(oracle))
          .status,
      0);
  const auto refused =
      Call("POST", "/api/v1/restores",
           json{{"vm", "vm1"}, {"target", dir_ / "elsewhere.raw"}}.dump());
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "elsewhere.raw"));

  const auto created =
      CallJson("POST", "/api/v1/exports", json{{"vm", "vm1"}}.dump(), 201);
  const int64_t id = created["id"];
  EXPECT_EQ(created["state"], "serving");
  EXPECT_EQ(created["owner"], "serve");
  const std::string copy = dir_ / "copy.raw";
  RunOrFail("nbdcopy " + Quote(created["uri"].get<std::string>()) + " " +
            Quote(copy));
  EXPECT_EQ(RunCommand("cmp " + Quote(copy) + " " + Quote(oracle)).status, 0);

  // A killed server is started again by serve.
  ASSERT_EQ(::kill(created["pid"].get<int>(), SIGKILL), 0);
  EXPECT_TRUE(Eventually(
      [&] {
        const auto e = Export(id);
        return e["state"] == "serving" && e["pid"] != created["pid"];
      },
      15));

  // Stopped with serve, started again with it.
  const int pid = Export(id)["pid"];
  Restart();
  EXPECT_EQ(SendenseJson("exports --json")[0]["state"], "dead");
  const bool server_alive =
      ::kill(pid, 0) == 0 &&
      RunCommand("grep -q qemu-nbd /proc/" + std::to_string(pid) + "/cmdline")
              .status == 0;
  EXPECT_FALSE(server_alive) << "serve left its export's server running";
  Serve("--no-index");
  EXPECT_TRUE(Eventually([&] { return Export(id)["state"] == "serving"; }, 15));
  RunOrFail("nbdcopy " + Quote(Export(id)["uri"].get<std::string>()) + " " +
            Quote(dir_ / "copy2.raw"));

  CallJson("DELETE", "/api/v1/exports/" + std::to_string(id));
  EXPECT_EQ(CallJson("GET", "/api/v1/exports")["exports"].size(), 0u);
  EXPECT_EQ(Call("GET", "/api/v1/exports/" + std::to_string(id)).status, 404);
}

}  // namespace
}  // namespace sendense::test
