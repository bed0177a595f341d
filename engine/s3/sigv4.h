#pragma once

// AWS Signature Version 4 for S3 requests (the Authorization header), as
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
// describes it; S3-compatible gateways (Ceph RGW, MinIO) check the same.

#include <map>
#include <string>

namespace sendense::s3 {

struct Credentials {
  std::string access_key;
  std::string secret_key;
};

// What a request is signed over. `path` is the URI path as sent (already
// percent-encoded, "/bucket/key"); `query` the decoded parameters; header
// names in any case (signed in lower case); `payload_hash` the hex SHA-256
// of the body or "UNSIGNED-PAYLOAD"; `amz_date` "20130524T000000Z" (the
// request's x-amz-date).
struct SigningInput {
  std::string method;
  std::string path;
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;
  std::string payload_hash;
  std::string amz_date;
  std::string region = "us-east-1";
};

// The Authorization header's value: every header of `in` is signed.
std::string Authorization(const Credentials& credentials,
                          const SigningInput& in);

// Percent-encoding as SigV4 wants it: all but A-Z a-z 0-9 - _ . ~, and
// '/' too unless `keep_slash`.
std::string UriEncode(const std::string& s, bool keep_slash);

// Hex SHA-256 and base64 MD5 (Content-MD5) of bytes.
std::string Sha256Hex(const std::string& data);
std::string Md5Base64(const void* data, size_t size);

// The SHA-256 of no bytes (GET, HEAD, DELETE).
inline constexpr const char* kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

}  // namespace sendense::s3
