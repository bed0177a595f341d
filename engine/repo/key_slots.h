#pragma once

// key add|rm: the keys that open an encrypted repository's points, changed
// in each point's LUKS key slots (docs/encryption.md). No data is
// re-encrypted: a point's master key stays, only its wrapping changes.

#include <string>
#include <vector>

#include "engine/repo/repository.h"

namespace sendense {

struct KeySlotChange {
  std::string file;      // relative to the repository
  bool changed = false;  // false: it had (add) or lacked (rm) the key
  std::string error;     // "" when it went through
};

struct KeySlotReport {
  std::vector<KeySlotChange> points;  // every encrypted point
  size_t changed() const;
  size_t failed() const;
};

// Adds the key `new_key` (a key file's content) to every encrypted point,
// each unlocked with the repository's key (Error kDenied without it).
// A point that fails (immutable, damaged) is reported; the others change.
KeySlotReport AddKey(const Repository& repo, const std::string& new_key);

// Removes the key `old_key` from every encrypted point that has it.
// Refused (Error kInvalidArgument, nothing changed) when it is the key the
// repository reads with; a point whose only key it is keeps it (reported
// as failed).
KeySlotReport RemoveKey(const Repository& repo, const std::string& old_key);

}  // namespace sendense
