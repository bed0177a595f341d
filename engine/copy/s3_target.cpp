#include "engine/copy/s3_target.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "engine/error.h"
#include "engine/io/capacity.h"
#include "engine/repo/repository.h"

namespace sendense::copy {
namespace {

std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r");
  const size_t e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

}  // namespace

s3::ClientOptions S3Options(const Target& target) {
  s3::ClientOptions o;
  o.location = s3::Location::Parse(target.location);
  if (!target.region.empty()) {
    o.region = target.region;
  }
  o.ca_file = target.ca_file;
  o.bytes_per_second = target.bandwidth;
  if (!target.credentials.empty()) {
    std::ifstream in(target.credentials);
    if (!in) {
      throw Error(ErrorKind::kInvalidArgument,
                  "target " + target.name +
                      ": cannot read the credentials file " +
                      target.credentials);
    }
    std::string line;
    while (std::getline(in, line)) {
      const size_t eq = line.find('=');
      if (eq == std::string::npos) {
        continue;
      }
      const std::string key = Trim(line.substr(0, eq));
      const std::string value = Trim(line.substr(eq + 1));
      if (key == "access_key" || key == "aws_access_key_id") {
        o.credentials.access_key = value;
      } else if (key == "secret_key" || key == "aws_secret_access_key") {
        o.credentials.secret_key = value;
      }
    }
  } else {
    const char* a = std::getenv("AWS_ACCESS_KEY_ID");
    const char* s = std::getenv("AWS_SECRET_ACCESS_KEY");
    o.credentials = {a != nullptr ? a : "", s != nullptr ? s : ""};
  }
  if (o.credentials.access_key.empty() || o.credentials.secret_key.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                "target " + target.name + " has no S3 keys: " +
                    (target.credentials.empty()
                         ? std::string("give --credentials FILE, or set "
                                       "AWS_ACCESS_KEY_ID and "
                                       "AWS_SECRET_ACCESS_KEY")
                         : target.credentials +
                               " needs access_key = ... and secret_key = "
                               "... lines"));
  }
  return o;
}

s3::Lock S3Lock(const Target& target, const std::string& time) {
  if (target.lock_days <= 0) {
    return {};
  }
  return {target.lock_mode == "compliance" ? "COMPLIANCE" : "GOVERNANCE",
          s3::IsoPlusDays(time, static_cast<int>(target.lock_days))};
}

void CheckS3Target(const Target& target) {
  const s3::Client client(S3Options(target));
  client.RequireBucket();
  if (target.lock_days > 0 && !client.ObjectLockEnabled()) {
    throw Error(ErrorKind::kInvalidArgument,
                "bucket '" + client.options().location.bucket + "' at " +
                    client.options().location.endpoint +
                    " has no Object Lock, and target " + target.name +
                    " asks for one: make the bucket with Object Lock, or "
                    "leave out --lock-days");
  }
}

std::string TargetProblem(const Target& target) {
  try {
    if (target.kind == "s3") {
      CheckS3Target(target);
    } else {
      const Repository there(target.location);
      if (!target.repository_id.empty() && there.Id() != target.repository_id) {
        return "the repository at " + target.location +
               " is not the one it was added with (its id differs): is the "
               "right share mounted there?";
      }
    }
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

Usage TargetUsage(const Target& target) {
  Usage u;
  if (target.kind == "s3") {
    const s3::Client client(S3Options(target));
    uint64_t used = 0;
    for (const auto& o : client.List("")) {
      used += o.size;
    }
    u.used = used;
  } else {
    const Repository there(target.location);
    u.used = there.UsedBytes();
    u.free = FreeBytes(target.location);
  }
  return u;
}

}  // namespace sendense::copy
