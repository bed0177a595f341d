#pragma once

// A small S3 client over libcurl: the calls an off-site copy needs
// (objects, multipart uploads, Object Lock), path-style addressing
// (https://ENDPOINT/BUCKET/KEY, which every S3-compatible gateway takes),
// SigV4-signed, TLS verified (a private CA when given). One client per
// thread; each call is one HTTP exchange (a new connection is reused when
// libcurl can). Errors are one sentence: kDenied for refused credentials,
// kNotFound for a missing bucket or object, kTimeout/kIo when the gateway
// cannot be reached, kIo for other refusals (with S3's code and message).

#include <curl/curl.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/s3/sigv4.h"

namespace sendense::s3 {

// Where a target's objects go: https://ENDPOINT/BUCKET[/PREFIX].
struct Location {
  std::string endpoint;  // "https://rgw.example:8443", no trailing '/'
  std::string bucket;
  std::string prefix;  // "" or "a/b/" (ends with '/')
  std::string url() const;
  // Error kInvalidArgument with the sentence for a URL that is not one.
  static Location Parse(const std::string& url);
};

struct ClientOptions {
  Location location;
  Credentials credentials;
  std::string region = "us-east-1";
  std::string ca_file;            // "" = the system's CAs
  uint64_t bytes_per_second = 0;  // per transfer; 0 = no limit
};

// Object Lock of an object: mode "COMPLIANCE" or "GOVERNANCE" until an
// ISO time ("2026-12-06T12:11:09Z").
struct Lock {
  std::string mode;
  std::string retain_until;
};

struct ObjectInfo {
  std::string key;  // without the location's prefix
  uint64_t size = 0;
  std::string etag;  // without quotes
  Lock lock;         // empty when the object has none
};

// One version of an object in a versioned bucket (every bucket with
// Object Lock is one); "null" is the version of an unversioned object.
struct Version {
  std::string key;  // without the location's prefix
  std::string version_id;
  uint64_t size = 0;
  bool latest = false;
  bool delete_marker = false;
};

struct Upload {
  std::string key;  // without the location's prefix
  std::string id;
};

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const ClientOptions& options() const { return options_; }

  // Makes the bucket (with Object Lock: versioning on, locks possible).
  void CreateBucket(bool object_lock) const;
  // Checks that the bucket is there and the credentials are taken.
  void RequireBucket() const;
  // Whether the bucket was made with Object Lock.
  bool ObjectLockEnabled() const;

  // Keys are relative to the location's prefix. A version when
  // `version_id` is given.
  std::optional<ObjectInfo> Head(const std::string& key,
                                 const std::string& version_id = "") const;
  // One PUT of `body` (Content-MD5 sent: the gateway checks it).
  std::string Put(const std::string& key,
                  const std::string& body,
                  const Lock& lock = {}) const;
  // `length` bytes of `path` at `offset`, streamed (Content-MD5 computed
  // first); returns the ETag.
  std::string PutFileRange(const std::string& key,
                           const std::string& path,
                           uint64_t offset,
                           uint64_t length,
                           const Lock& lock = {},
                           const std::string& upload_id = "",
                           int part = 0) const;
  std::string Get(const std::string& key) const;
  // The object into `path` (created or truncated); its size.
  uint64_t GetToFile(const std::string& key, const std::string& path) const;
  // Objects under `prefix` (relative), every page.
  std::vector<ObjectInfo> List(const std::string& prefix) const;
  // Deletes `key` (a version when `version_id`): a locked version is
  // refused by the gateway (kDenied).
  void Delete(const std::string& key, const std::string& version_id = "") const;
  // The version ids of `key`, newest first.
  std::vector<std::string> Versions(const std::string& key) const;
  // Every version and delete marker under `prefix`, every page.
  std::vector<Version> ListVersions(const std::string& prefix) const;

  // Multipart uploads.
  std::string StartUpload(const std::string& key, const Lock& lock) const;
  // Completes it with the parts' ETags in order; returns nothing (RGW
  // answers with an empty ETag: Head the object to know it).
  void CompleteUpload(const std::string& key,
                      const std::string& upload_id,
                      const std::vector<std::string>& etags) const;
  void AbortUpload(const std::string& key, const std::string& upload_id) const;
  // Uploads started and neither completed nor aborted, under `prefix`.
  std::vector<Upload> Uploads(const std::string& prefix) const;

 private:
  struct Request;
  struct Response {
    long status = 0;
    std::string body;
    std::map<std::string, std::string> headers;  // names in lower case
  };
  Response Send(const Request& request) const;
  // Throws the sentence for a response that is not 2xx.
  void Check(const Request& request, const Response& response) const;
  std::string Key(const std::string& key) const;

  ClientOptions options_;
  CURL* curl_;
};

// The ETag S3 gives an object completed from parts with these ETags: the
// MD5 of their MD5s, "-" and their count.
std::string MultipartEtag(const std::vector<std::string>& part_etags);

// The ISO time `days` after `iso` (both "2026-12-06T12:11:09Z").
std::string IsoPlusDays(const std::string& iso, int days);

}  // namespace sendense::s3
