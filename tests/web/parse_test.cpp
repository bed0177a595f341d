// The API's pure parsers: byte ranges, path segments, listen addresses.

#include <gtest/gtest.h>

#include <set>

#include "engine/error.h"
#include "engine/io/listen_address.h"
#include "web/files_api.h"
#include "web/http_server.h"
#include "web/routes.h"
#include "web/url.h"

namespace sendense::web {
namespace {

void ExpectRange(const std::string& header,
                 uint64_t size,
                 uint64_t first,
                 uint64_t last) {
  const auto r = ParseRange(header, size);
  ASSERT_TRUE(r.has_value()) << header;
  EXPECT_EQ(r->first, first) << header;
  EXPECT_EQ(r->last, last) << header;
}

TEST(ParseRangeTest, ServesWhatRfc9110Allows) {
  ExpectRange("bytes=0-0", 100, 0, 0);
  ExpectRange("bytes=5-", 100, 5, 99);
  ExpectRange("bytes=-3", 100, 97, 99);
  ExpectRange("bytes=-500", 100, 0, 99);        // more than the file: all
  ExpectRange("bytes=90-999999", 100, 90, 99);  // clamped to the end
}

TEST(ParseRangeTest, RefusesWhatCannotBeServed) {
  for (const char* bad :
       {"bytes=100-", "bytes=10-5", "bytes=0-1,3-4", "items=0-1", "bytes=a-b",
        "bytes=1-2x", "bytes=-0", "bytes= 1-2", "bytes=+1-2", "bytes=-",
        "bytes=1", "bytes=-1-2", "bytes=99999999999999999999999-"}) {
    EXPECT_FALSE(ParseRange(bad, 100).has_value()) << bad;
  }
  EXPECT_FALSE(ParseRange("bytes=0-0", 0).has_value()) << "an empty file";
}

TEST(DecodeSegmentTest, DecodesOnceAndRefusesEscapes) {
  EXPECT_EQ(DecodeSegment("motd"), "motd");
  EXPECT_EQ(DecodeSegment("a%20b"), "a b");
  EXPECT_EQ(DecodeSegment("%25252e"), "%252e") << "decoded exactly once";
  EXPECT_EQ(DecodeSegment("caf%C3%A9"), "caf\xC3\xA9");
  for (const char* bad : {"", ".", "..", "%2e%2e", "%2E", "a%2fb", "a%2Fb",
                          "a%00b", "%", "%4", "%zz"}) {
    EXPECT_THROW(DecodeSegment(bad), Error) << bad;
  }
}

TEST(ParseListenTest, AddressAndPort) {
  EXPECT_EQ(ParseListen("127.0.0.1:8420"),
            (std::pair<std::string, uint16_t>{"127.0.0.1", 8420}));
  EXPECT_EQ(ParseListen("::1:0"), (std::pair<std::string, uint16_t>{"::1", 0}));
  for (const char* bad : {"8420", ":8420", "127.0.0.1:", "127.0.0.1:65536",
                          "127.0.0.1:-1", "127.0.0.1:80x", "127.0.0.1:x"}) {
    EXPECT_THROW(ParseListen(bad), Error) << bad;
  }
}

std::vector<std::string> Segments(const std::string& target) {
  std::string query;
  return SplitPath(target, &query);
}

TEST(RouteTableTest, MatchesCapturesAndTellsOtherMethods) {
  auto m = MatchRoute(http::verb::post, Segments("/api/v1/vms/web%201/backup"),
                      nullptr);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->route->pattern, "/api/v1/vms/{vm}/backup");
  EXPECT_EQ(m->args, std::vector<std::string>{"web 1"});
  // A rest capture takes zero or more segments.
  m = MatchRoute(http::verb::head,
                 Segments("/api/v1/backups/v/p/files/sda1/etc/motd?x=1"),
                 nullptr);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->args,
            (std::vector<std::string>{"v", "p", "sda1", "etc", "motd"}));
  m = MatchRoute(http::verb::get, Segments("/api/v1/backups/v/p/files/sda1/"),
                 nullptr);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->args, (std::vector<std::string>{"v", "p", "sda1"}));
  // The path exists under other methods: they are named (405).
  std::vector<http::verb> allowed;
  EXPECT_FALSE(
      MatchRoute(http::verb::patch, Segments("/api/v1/vms/web1"), &allowed)
          .has_value());
  EXPECT_EQ(allowed,
            (std::vector<http::verb>{http::verb::get, http::verb::delete_}));
  allowed.clear();
  EXPECT_FALSE(
      MatchRoute(http::verb::get, Segments("/api/v1/nothing"), &allowed));
  EXPECT_TRUE(allowed.empty());
  EXPECT_THROW(
      MatchRoute(http::verb::get, Segments("/api/v1/vms/%2e%2e"), nullptr),
      Error);
}

TEST(RouteTableTest, EveryRouteDeclaresWhoMayUseIt) {
  std::set<std::string> open;
  const auto is = [](const Route& r, const char* pattern) {
    return r.pattern == std::string_view(pattern);
  };
  for (const Route& r : Routes()) {
    if (r.right == Right::kPublic) {
      open.insert(std::string(r.pattern));
    }
    // Signing in and out is everyone's; nothing else that changes
    // something is a reader's, and each change is audited.
    if (is(r, "/api/v1/sessions") || is(r, "/api/v1/sessions/current")) {
      continue;
    }
    if (r.method != http::verb::get) {
      EXPECT_GE(r.right, Right::kRestore) << r.pattern;
      if (!is(r, "/api/v1/download-links")) {
        EXPECT_NE(r.audit, nullptr) << r.pattern << " is not audited";
      }
    }
    // Deleting and configuring are an admin's.
    if (r.method == http::verb::delete_ &&
        r.pattern.find("exports") == std::string_view::npos) {
      EXPECT_GE(r.right, Right::kAdmin) << r.pattern;
    }
  }
  EXPECT_EQ(open, (std::set<std::string>{"/api/v1/health",
                                         "/api/v1/downloads/{secret}",
                                         "/api/v1/sessions"}));
}

}  // namespace
}  // namespace sendense::web
