#pragma once

#include <string>

#include "engine/s3/s3_client.h"

namespace sendense::test {

// The suite's gateway (tests/s3/rgw_fixture.sh, ctest fixture "rgw"): its
// endpoint and keys, read from the env file the fixture leaves.
struct Rgw {
  std::string endpoint;  // http://127.0.0.1:PORT
  std::string access_key, secret_key, region;
  std::string why_not;  // why there is none ("" when there is)

  static Rgw Load();
  // A bucket name no other test uses ("sendense-<pid>-<n>-<what>").
  static std::string NewBucket(const std::string& what);
  // Options for `bucket` (and `prefix`) with the gateway's keys.
  s3::ClientOptions Options(const std::string& bucket,
                            const std::string& prefix = "") const;
  // A credentials file (0600) of the gateway's keys under `dir`.
  std::string WriteCredentials(const std::string& dir,
                               const std::string& secret = "") const;
};

}  // namespace sendense::test
