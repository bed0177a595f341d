#pragma once

// prune --target / forget --target: what a copy target holds, thinned by
// the target's own retention policy (docs/offsite.md).

#include <chrono>
#include <string>
#include <vector>

#include "engine/catalog/targets.h"
#include "engine/retention/prune.h"

namespace sendense::copy {

// Prunes a target by `request.policy`, else the target's own policy:
// - a directory target: retention::Prune of its repository (without
//   either, each VM's policy stored there);
// - an S3 target: per VM, the backups the policy does not keep are
//   deleted from the bucket (every version of their objects, manifest
//   first), except those a kept backup builds on ("a kept point builds on
//   it": a chain goes only whole, so copies with full_every let older
//   chains go) and those still under Object Lock at `now` ("locked until
//   T": never tried before). Objects no manifest names (an upload a
//   killed copy or prune left) and older versions go too, once unlocked.
//   Takes the VM's lock in `repo` (a copy of it to the bucket waits).
// The same report as a repository's prune: bytes freed, nothing merged.
// Error kInvalidArgument when there is no policy, kNotFound for a VM the
// target has none of.
std::vector<retention::PruneReport> PruneTarget(
    const Repository& repo,
    const Target& target,
    const retention::PruneRequest& request,
    std::chrono::system_clock::time_point now =
        std::chrono::system_clock::now());

// Deletes the named backups of `vm` from the target. Refused, before
// anything is deleted, in one sentence: an unknown name (kNotFound), the
// newest (the next copy builds on it), one a remaining backup builds on
// (kInvalidArgument), one under Object Lock (kDenied, with its date).
retention::PruneReport ForgetInTarget(const Repository& repo,
                                      const Target& target,
                                      const std::string& vm,
                                      const std::vector<std::string>& backups);

}  // namespace sendense::copy
