#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/catalog/retention_policy.h"
#include "engine/catalog/sqlite.h"

namespace sendense {

// Where copies of backups go (target add): another repository in a
// directory (a second disk, an NFS or CIFS mount), or S3 object storage
// (https://ENDPOINT/BUCKET[/PREFIX]) with the keys in a credentials file
// (or the environment), optionally an Object Lock on every object.
struct Target {
  std::string name;
  std::string kind;      // "dir" or "s3"
  std::string location;  // the directory, or the S3 URL
  // S3: a file of `access_key = ...` and `secret_key = ...` lines (0600);
  // "" = AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY of the environment.
  std::string credentials;
  std::string region;      // "" = us-east-1
  std::string ca_file;     // "" = the system's CAs
  int64_t lock_days = 0;   // 0: no Object Lock asked
  std::string lock_mode;   // "compliance" or "governance" with lock_days
  uint64_t bandwidth = 0;  // bytes per second, 0 = no limit
  // A directory target: the id of the repository it was added with
  // (Repository::Id), which a copy finds there or refuses.
  std::string repository_id;
  // What `prune --target` keeps there (empty: each VM's policy in a
  // directory target's repository; nothing is pruned in a bucket).
  retention::Policy retention;
  // S3: a point whose chain in the bucket already holds this many points
  // is copied whole (a full), so that older chains can expire; 0 = never.
  int64_t full_every = 0;
  std::string created_at;
};

// {"name", "kind", "location", "credentials", "region", "ca_file",
//  "lock_days", "lock_mode", "bandwidth", "retention", "full_every",
//  "created_at"}: never a key.
nlohmann::json TargetJson(const Target& target);

// "50MiB/s", "10M", "1G/s", "0" as bytes per second; Error
// kInvalidArgument with the sentence otherwise.
uint64_t ParseBandwidth(const std::string& text);

// The targets of a catalog. One connection; one per thread. Errors are
// one sentence: kInvalidArgument for a bad name, kind, URL, lock or a
// credentials file others can read, kNotFound, kAlreadyExists.
// The newest backup of a VM copied to a target, and when.
struct LastCopy {
  std::string vm, backup, copied_at;
};

class Targets {
 public:
  explicit Targets(const std::string& catalog_path);
  void Add(const Target& target);
  // Its retention, full_every, bandwidth and lock (target set); the same
  // checks as Add.
  void Update(const Target& target);
  void Remove(const std::string& name);
  std::vector<Target> List();
  std::optional<Target> Find(const std::string& name);
  // Error kNotFound ("no target named 'x'", with the targets there are).
  Target Require(const std::string& name);
  // Per VM, the newest of its backups copied to `target` (recorded under
  // its name, or its directory's path), in VM order.
  std::vector<LastCopy> LastCopies(const Target& target);

 private:
  sqlite::Database db_;
};

}  // namespace sendense
