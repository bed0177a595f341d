#pragma once

#include <optional>

#include "engine/catalog/targets.h"
#include "engine/s3/s3_client.h"

namespace sendense::copy {

// The client options of an S3 target: its location, region, CA and
// bandwidth, and its keys from its credentials file (`access_key = ...`,
// `secret_key = ...`; aws_access_key_id / aws_secret_access_key as in an
// AWS credentials file work too) or, without one, AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY of the environment. Error kInvalidArgument with
// the sentence when there are no keys; the keys never appear in one.
s3::ClientOptions S3Options(const Target& target);

// The lock an object copied at `time` (ISO) gets: none without lock_days.
s3::Lock S3Lock(const Target& target, const std::string& time);

// Whether the target can take copies now: the gateway answers, takes the
// keys, has the bucket, and has Object Lock when the target asks for it.
// Throws the one sentence that says what is wrong.
void CheckS3Target(const Target& target);

// Why the target cannot take copies now ("" when it can): CheckS3Target's
// sentence for S3, a missing repository for a directory.
std::string TargetProblem(const Target& target);

// What a target holds and has room for: a directory's repository's
// allocated bytes and its filesystem's free bytes; a bucket's objects
// under the prefix (one listing), free unknown.
struct Usage {
  std::optional<uint64_t> used, free;
};
Usage TargetUsage(const Target& target);

}  // namespace sendense::copy
