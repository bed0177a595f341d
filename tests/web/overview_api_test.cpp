// The routes made for the dashboard (overview, find, history, one VM) and
// the dashboard's files: served with the security headers, validators and
// real page URLs.

#include <gtest/gtest.h>

#include "tests/web/api_fixture.h"

namespace sendense::test {
namespace {

TEST_F(ApiTest, OverviewFindAndHistoryForTheDashboard) {
  Serve();
  MakeSource();
  NbdServer server(dir_.path(), QemuNbdCommand(source_, "b0"));
  AddVm("web1", server);
  AddVm("idle", server);
  CallJson("POST", "/api/v1/vms",
           json{{"name", "broken"},
                {"disks", {{"sda", "nbd+unix:///?socket=/nonexistent.sock"}}}}
               .dump(),
           201);
  for (const char* vm : {"web1", "broken"}) {
    const auto job =
        CallJson("POST", "/api/v1/vms/" + std::string(vm) + "/backup", "", 202);
    WaitForJob(job["id"]);
  }
  EXPECT_EQ(CallJson("GET", "/api/v1/vms/web1")["name"], "web1");
  EXPECT_EQ(Call("GET", "/api/v1/vms/nope").status, 404);

  const auto overview = CallJson("GET", "/api/v1/overview");
  std::map<std::string, json> by_name;
  for (const auto& v : overview["vms"]) {
    by_name[v["name"]] = v;
  }
  ASSERT_EQ(by_name.size(), 3u) << overview.dump();
  EXPECT_EQ(by_name["web1"]["health"], "ok");
  EXPECT_EQ(by_name["web1"]["points"], 1);
  EXPECT_GT(by_name["web1"]["bytes_stored"].get<uint64_t>(), 0u);
  EXPECT_EQ(by_name["web1"]["last_backup"]["state"], "complete");
  EXPECT_EQ(by_name["web1"]["verify_state"], "unverified");
  EXPECT_EQ(by_name["idle"]["health"], "never");
  EXPECT_EQ(by_name["idle"]["last_backup"], nullptr);
  EXPECT_EQ(by_name["broken"]["health"], "failed");
  EXPECT_TRUE(overview["repository"].contains("free_bytes"));
  ASSERT_EQ(overview["jobs"].size(), 2u);
  EXPECT_GT(overview["jobs"][0]["id"], overview["jobs"][1]["id"])
      << "newest first";

  // Searches need their parameters; unknown VMs are named.
  EXPECT_EQ(Call("GET", "/api/v1/find").status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/find?pattern=x&limit=0").status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/find?pattern=x&vm=nope").status, 404);
  const auto none = CallJson("GET", "/api/v1/find?pattern=%2Fetc%2F*");
  EXPECT_EQ(none["matches"], json::array());  // not indexed (--no-index)
  EXPECT_EQ(none["truncated"], false);
  EXPECT_EQ(Call("GET", "/api/v1/history?vm=web1").status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/history?vm=web1&path=etc").status, 400);
  const auto missing =
      Call("GET", "/api/v1/history?vm=web1&path=%2Fetc%2Fmotd");
  EXPECT_EQ(missing.status, 404) << missing.body;
  EXPECT_NE(missing.body.find("no indexed point"), std::string::npos);
  EXPECT_EQ(Call("GET", "/api/v1/history?vm=web1&path=%2Fa%00b").status, 400);
}

TEST_F(ApiTest, TheDashboardIsServedWithStrictHeaders) {
  Serve();
  // Every page URL of the app is the app; its files need no token.
  for (const char* page : {"/", "/jobs", "/search", "/vms/web1",
                           "/vms/web1/2026-12-03T09.00.00Z/files/sda1/etc"}) {
    const auto r = Http("GET", base_ + page);
    EXPECT_EQ(r.status, 200) << page;
    EXPECT_EQ(r.headers.at("content-type"), "text/html; charset=utf-8") << page;
    EXPECT_NE(r.body.find("/ui/js/main.js"), std::string::npos) << page;
    EXPECT_EQ(r.body.find("<script>"), std::string::npos) << "inline script";
  }
  const auto js = Http("GET", base_ + "/ui/js/main.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.headers.at("content-type"), "text/javascript; charset=utf-8");
  const auto again = Http("GET", base_ + "/ui/js/main.js",
                          {"If-None-Match: " + js.headers.at("etag")});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(Http("GET", base_ + "/ui/nothing.js").status, 404);
  EXPECT_EQ(Http("GET", base_ + "/ui/../api-token").status, 404);
  // The API stays the API: JSON, and the token still needed.
  EXPECT_EQ(Http("GET", base_ + "/api/v1/overview").status, 401);
  EXPECT_EQ(Http("POST", base_ + "/").status, 401);
  // The headers every reply carries, pages and API alike.
  for (const auto& r : {Http("GET", base_ + "/"), Call("GET", "/api/v1/vms"),
                        Http("GET", base_ + "/api/v1/vms")}) {
    const std::string csp = r.headers.at("content-security-policy");
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe"), std::string::npos) << csp;
    EXPECT_EQ(r.headers.at("x-content-type-options"), "nosniff");
    EXPECT_EQ(r.headers.at("referrer-policy"), "no-referrer");
  }
}

}  // namespace
}  // namespace sendense::test
