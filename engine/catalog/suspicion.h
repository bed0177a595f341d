#pragma once

// Suspicious change: whether a point's guest files look like a mass
// encryption since the point before it (ransomware), from what the index
// tells (GuestDiff) and the entropy of a sample of the changed files'
// data. It never blocks anything: the point is marked, with its reasons,
// until an admin marks it reviewed (docs/suspicious-change.md says what it
// catches and what it cannot).

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/catalog/guest_diff.h"

namespace sendense {

// The entropy of one sampled file: the start of its data (a few KiB).
struct EntropySample {
  std::string path;
  double bits_per_byte = 0;  // Shannon entropy, 0 to 8
};

struct SuspicionReport {
  bool suspicious = false;
  std::vector<std::string> reasons;  // one sentence each
  // What the rules looked at.
  double changed_share = 0;   // existing files changed, renamed or removed
  size_t ransom_notes = 0;    // added files named as ransom notes
  size_t ransom_renames = 0;  // renamed or added to a ransomware extension
  size_t sampled = 0, high_entropy = 0;  // sampled data that looks random
};

// Shannon entropy of `data` in bits per byte.
double Entropy(const std::string& data);

// Whether a file name is one a compressed or encrypted format of everyday
// use carries (.zip, .gz, .jpg, .mp4, .docx, ...): high entropy is usual.
bool UsuallyDense(const std::string& name);

// The changes worth sampling for entropy (changed content, renamed or
// added regular files, not UsuallyDense), at most `limit`, spread over the
// list.
std::vector<const GuestChange*> SampleCandidates(const GuestDiff& diff,
                                                 size_t limit);

// The rules: ransom-note names added, files renamed (or added) to a
// ransomware extension, and a mass change (a share of the existing files
// far above the VM's `usual_share`) whose sampled data mostly looks
// random. `regular_files_before`: the older point's regular files.
SuspicionReport CheckSuspicion(const GuestDiff& diff,
                               size_t regular_files_before,
                               double usual_share,
                               const std::vector<EntropySample>& samples);

// {"state": "suspicious"|"clean", "reasons", "changed_share",
// "ransom_notes", "ransom_renames", "sampled", "high_entropy",
// "compared_with"}.
nlohmann::json SuspicionJson(const SuspicionReport& r,
                             const std::string& compared_with);

}  // namespace sendense
