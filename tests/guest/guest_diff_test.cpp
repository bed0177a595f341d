// diff between two points of an ext4 guest with known changes (added,
// removed, changed, renamed, chmod, a folder renamed): exactly those are
// reported, by the CLI and by GET /api/v1/diff alike.

#include <sys/stat.h>

#include <fstream>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/guest/ext4_guest_fixture.h"
#include "tests/support/http_client.h"

namespace sendense::test {
namespace {

class GuestDiffTest : public Ext4GuestFixture {};

TEST_F(GuestDiffTest, KnownChangesAreReportedExactlyByTheCliAndTheApi) {
  std::mt19937_64 rng(31);
  const std::string g = guest_ + "/";
  WriteAt(g + "keep.txt", 0, Random(rng, 5000));
  WriteAt(g + "change.txt", 0, Random(rng, 20000));
  WriteAt(g + "remove.txt", 0, Random(rng, 9000));
  WriteAt(g + "rename-me.txt", 0, Random(rng, 30000));
  WriteAt(g + "chmod.txt", 0, Random(rng, 7000));
  std::filesystem::create_directories(g + "movedir");
  std::filesystem::create_directories(g + "etc");
  WriteAt(g + "movedir/x.txt", 0, Random(rng, 12000));
  WriteAt(g + "movedir/y.txt", 0, Random(rng, 12000));
  WriteAt(g + "etc/conf", 0, "a=1\n");
  const std::string p1 = Point();

  WriteAt(g + "change.txt", 0, Random(rng, 25000));
  std::filesystem::remove(g + "remove.txt");
  std::filesystem::rename(g + "rename-me.txt", g + "renamed.txt");
  ::chmod((g + "chmod.txt").c_str(), 0600);
  WriteAt(g + "new.txt", 0, Random(rng, 4000));
  std::filesystem::rename(g + "movedir", g + "moveddir");
  WriteAt(g + "etc/conf2", 0, "b=2\n");
  const std::string p2 = Point();

  const std::string cli =
      std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) + " diff --vm vm1 ";
  auto r = RunCommand(cli + p1 + " " + p2);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("has no guest file index yet (sendense index --vm "
                          "vm1 --point "),
            std::string::npos)
      << r.output;
  RunOrFail(std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) + " index");

  const auto diff =
      nlohmann::json::parse(RunOrFail(cli + p1 + " " + p2 + " --json"));
  std::vector<std::string> seen;
  for (const auto& c : diff["changes"]) {
    std::string line = c["change"].get<std::string>() + " " +
                       c["filesystem"].get<std::string>() + ":" +
                       c["path"].get<std::string>();
    if (!c["from_path"].is_null()) {
      line += " from " + c["from_path"].get<std::string>();
    }
    for (const auto& w : c["what"]) {
      line += " " + w.get<std::string>();
    }
    seen.push_back(line);
  }
  const std::vector<std::string> expected = {
      "changed sda1:/change.txt size content mtime",
      "changed sda1:/chmod.txt mode",
      "added sda1:/etc/conf2",
      "renamed sda1:/moveddir from /movedir",
      "added sda1:/new.txt",
      "removed sda1:/remove.txt",
      "renamed sda1:/renamed.txt from /rename-me.txt",
  };
  EXPECT_EQ(seen, expected) << diff.dump(2);
  EXPECT_EQ(diff["summary"]["added"], 2) << diff.dump(2);
  EXPECT_EQ(diff["summary"]["removed"], 1);
  EXPECT_EQ(diff["summary"]["changed"], 2);
  EXPECT_EQ(diff["summary"]["renamed"], 2);
  EXPECT_EQ(diff["filesystems"][0]["state"], "compared") << diff.dump(2);

  // The text; a path; the other way round.
  const std::string text = RunOrFail(cli + p1 + " " + p2);
  EXPECT_NE(text.find("  + sda1:/new.txt ("), std::string::npos) << text;
  EXPECT_NE(text.find("  R sda1:/movedir -> /moveddir"), std::string::npos)
      << text;
  EXPECT_NE(text.find("2 added, 1 removed, 2 changed, 2 renamed"),
            std::string::npos)
      << text;
  const auto etc = nlohmann::json::parse(
      RunOrFail(cli + p1 + " " + p2 + " --json --path sda1:/etc"));
  ASSERT_EQ(etc["changes"].size(), 1u) << etc.dump(2);
  EXPECT_EQ(etc["changes"][0]["path"], "/etc/conf2");
  const auto back =
      nlohmann::json::parse(RunOrFail(cli + p2 + " " + p1 + " --json"));
  EXPECT_EQ(back["summary"]["added"], 1) << back.dump(2);  // remove.txt
  EXPECT_EQ(back["summary"]["removed"], 2) << back.dump(2);
  EXPECT_EQ(back["summary"]["renamed"], 2) << back.dump(2);
  r = RunCommand(cli + p1 + " nosuch");
  EXPECT_NE(r.output.find("vm1 has no complete point named 'nosuch'"),
            std::string::npos)
      << r.output;
  r = RunCommand(cli + p1 + " " + p2 + " --path etc");
  EXPECT_NE(r.output.find("the path must be absolute"), std::string::npos)
      << r.output;

  // The API says the same.
  const std::string log = dir_ / "serve.log";
  BackgroundProcess serve(std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) +
                              " serve --no-index --listen 127.0.0.1:0",
                          log);
  std::string base;
  const std::regex listening("listening on (http://127\\.0\\.0\\.1:[0-9]+)");
  for (int i = 0; i < 400 && base.empty(); ++i) {
    std::smatch m;
    const std::string said = Slurp(log);
    if (std::regex_search(said, m, listening)) {
      base = m[1];
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_FALSE(base.empty()) << Slurp(log);
  std::string token;
  std::getline(std::ifstream(repo_ + "/api-token"), token);
  const std::vector<std::string> auth = {"Authorization: Bearer " + token};
  auto reply = Http(
      "GET", base + "/api/v1/diff?vm=vm1&from=" + p1 + "&to=" + p2, auth, "");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(nlohmann::json::parse(reply.body), diff);
  reply = Http(
      "GET", base + "/api/v1/diff?vm=vm1&from=" + p1 + "&to=" + p2 + "&limit=3",
      auth, "");
  const auto limited = nlohmann::json::parse(reply.body);
  EXPECT_EQ(limited["changes"].size(), 3u) << reply.body;
  EXPECT_EQ(limited["truncated"], true);
  EXPECT_EQ(
      Http("GET", base + "/api/v1/diff?vm=vm1&from=" + p1, auth, "").status,
      400);
  EXPECT_EQ(Http("GET", base + "/api/v1/diff?vm=vm1&from=" + p1 + "&to=nosuch",
                 auth, "")
                .status,
            404);
}

}  // namespace
}  // namespace sendense::test
