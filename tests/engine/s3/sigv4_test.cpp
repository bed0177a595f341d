// SigV4 against the example of AWS's own documentation, and the S3
// location and lock-date helpers.

#include "engine/s3/sigv4.h"

#include <gtest/gtest.h>

#include "engine/error.h"
#include "engine/s3/s3_client.h"

namespace sendense::s3 {
namespace {

// "GET Object" of sig-v4-header-based-auth.html: examplebucket, /test.txt,
// Range: bytes=0-9, 2013-05-24.
TEST(SigV4, SignsAwsDocumentationExample) {
  SigningInput in;
  in.method = "GET";
  in.path = "/test.txt";
  in.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                {"Range", "bytes=0-9"},
                {"x-amz-content-sha256", kEmptySha256},
                {"x-amz-date", "20130524T000000Z"}};
  in.payload_hash = kEmptySha256;
  in.amz_date = "20130524T000000Z";
  EXPECT_EQ(Authorization({"AKIAIOSFODNN7EXAMPLE",
                           "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
                          in),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/"
            "us-east-1/s3/aws4_request,SignedHeaders=host;range;"
            "x-amz-content-sha256;x-amz-date,Signature="
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, EncodesAsS3Wants) {
  EXPECT_EQ(UriEncode("vms/a b/2026-12-06T10.00.00Z~x", true),
            "vms/a%20b/2026-12-06T10.00.00Z~x");
  EXPECT_EQ(UriEncode("a/b+c=", false), "a%2Fb%2Bc%3D");
  const std::string abc = "abc";
  EXPECT_EQ(Md5Base64(abc.data(), abc.size()), "kAFQmDzST7DWlj99KOF/cg==");
}

TEST(S3Location, ParsesEndpointBucketAndPrefix) {
  const auto l = Location::Parse("https://rgw.example:8443/backups/site-a//");
  EXPECT_EQ(l.endpoint, "https://rgw.example:8443");
  EXPECT_EQ(l.bucket, "backups");
  EXPECT_EQ(l.prefix, "site-a/");
  EXPECT_EQ(l.url(), "https://rgw.example:8443/backups/site-a/");
  EXPECT_EQ(Location::Parse("http://127.0.0.1:9000/bkt").prefix, "");
  for (const char* bad : {"s3://bkt", "https://host", "https://host/ab"}) {
    try {
      Location::Parse(bad);
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("is not an S3 location"),
                std::string::npos);
    }
  }
}

TEST(S3Location, LockDatesAddDays) {
  EXPECT_EQ(IsoPlusDays("2026-12-30T23:10:00Z", 3), "2027-01-02T23:10:00Z");
}

}  // namespace
}  // namespace sendense::s3
