#include "tests/s3/rgw.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>

#include "tests/support/test_env.h"

namespace sendense::test {

Rgw Rgw::Load() {
  Rgw r;
  std::ifstream in(SENDENSE_RGW_ENV);
  std::string line;
  while (std::getline(in, line)) {
    const size_t eq = line.find('=');
    const std::string k = line.substr(0, eq), v = line.substr(eq + 1);
    if (k == "S3_ENDPOINT")
      r.endpoint = v;
    if (k == "AWS_ACCESS_KEY_ID")
      r.access_key = v;
    if (k == "AWS_SECRET_ACCESS_KEY")
      r.secret_key = v;
    if (k == "AWS_DEFAULT_REGION")
      r.region = v;
  }
  if (r.endpoint.empty()) {
    r.why_not = std::string("no S3 gateway: ") + SENDENSE_RGW_ENV +
                " is missing (ctest starts it: the rgw_start test, "
                "tests/s3/rgw_fixture.sh)";
  }
  return r;
}

std::string Rgw::NewBucket(const std::string& what) {
  static std::atomic<int> n{0};
  return "sendense-" + std::to_string(::getpid()) + "-" + std::to_string(n++) +
         "-" + what;
}

s3::ClientOptions Rgw::Options(const std::string& bucket,
                               const std::string& prefix) const {
  s3::ClientOptions o;
  o.location = s3::Location::Parse(endpoint + "/" + bucket +
                                   (prefix.empty() ? "" : "/" + prefix));
  o.credentials = {access_key, secret_key};
  o.region = region;
  return o;
}

std::string Rgw::WriteCredentials(const std::string& dir,
                                  const std::string& secret) const {
  const std::string path = dir + "/s3-credentials";
  WriteText(path, "access_key = " + access_key + "\nsecret_key = " +
                      (secret.empty() ? secret_key : secret) + "\n");
  ::chmod(path.c_str(), 0600);
  return path;
}

}  // namespace sendense::test
