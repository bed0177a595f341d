#pragma once

// The API tests' fixture: a repository, `sendense serve` on a loopback port
// and authenticated calls to it.

#include <chrono>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/backup_fixture.h"
#include "tests/support/http_client.h"

namespace sendense::test {

using json = nlohmann::json;

class ApiTest : public BackupFixture {
 protected:
  void SetUp() override {
    BackupFixture::SetUp();
    std::ifstream in(repo_ + "/api-token");
    std::getline(in, token_);
    log_ = dir_ / "serve.log";
  }

  void Serve(const std::string& extra = "--no-index") {
    serve_ = std::make_unique<BackgroundProcess>(
        env_ + SENDENSE_BINARY + " -r " + Quote(repo_) +
            " serve --listen 127.0.0.1:0 " + extra,
        log_);
    const std::regex listening(
        "listening on (https?://127\\.0\\.0\\.1:[0-9]+)");
    for (int i = 0; i < 200 && base_.empty(); ++i) {
      std::ifstream in(log_);
      std::stringstream all;
      all << in.rdbuf();
      std::smatch m;
      const std::string text = all.str();
      if (std::regex_search(text, m, listening)) {
        base_ = m[1];
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    ASSERT_FALSE(base_.empty()) << "serve did not start";
  }

  HttpReply Call(const std::string& method,
                 const std::string& path,
                 const std::string& body = "",
                 std::vector<std::string> headers = {}) {
    headers.push_back("Authorization: Bearer " + token_);
    return Http(method, base_ + path, headers, body);
  }
  json CallJson(const std::string& method,
                const std::string& path,
                const std::string& body = "",
                long want = 200) {
    const auto r = Call(method, path, body);
    EXPECT_EQ(r.status, want) << method << " " << path << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  json WaitForJob(int64_t id, double seconds = 60) {
    json job;
    Eventually(
        [&] {
          job = CallJson("GET", "/api/v1/jobs/" + std::to_string(id));
          const std::string state = job.value("state", "");
          return state != "queued" && state != "running";
        },
        seconds);
    return job;
  }
  std::string AddVm(const std::string& name, const NbdServer& server) {
    CallJson("POST", "/api/v1/vms",
             json{{"name", name},
                  {"disks", {{"sda", server.uri()}}},
                  {"bitmap", "b0"}}
                 .dump(),
             201);
    return name;
  }

  std::string env_;  // e.g. "env NAME=VALUE " before the binary
  std::string token_, log_, base_;
  std::unique_ptr<BackgroundProcess> serve_;
};

}  // namespace sendense::test
