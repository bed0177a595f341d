// The API's pure parsers: byte ranges, path segments, listen addresses.

#include <gtest/gtest.h>

#include "engine/error.h"
#include "engine/io/listen_address.h"
#include "web/api.h"
#include "web/http_server.h"

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

}  // namespace
}  // namespace sendense::web
