#pragma once

// key add|rm|set|list: the keys that open encrypted points, changed in
// each point's LUKS key slots (docs/encryption.md). No data is
// re-encrypted: a point's master key stays, only its wrapping changes.
// Each call acts on the points of one key scope: the VMs that use the
// repository's key, a tenant's, or one VM's (ScopeOf).

#include <string>
#include <vector>

#include "engine/repo/repository.h"
#include "engine/repo/repository_key.h"

namespace sendense {

struct KeySlotChange {
  std::string file;      // relative to the repository
  bool changed = false;  // false: it had (add) or lacked (rm) the key
  std::string error;     // "" when it went through
};

struct KeySlotReport {
  std::vector<KeySlotChange> points;  // every encrypted point in scope
  size_t changed() const;
  size_t failed() const;
};

// Adds the key `new_key` (a key file's content) to every encrypted point
// of `scope`, each unlocked with the scope's key (Error kDenied without
// it). A point that fails (immutable, damaged) is reported; the others
// change.
KeySlotReport AddKey(const Repository& repo,
                     const KeyScope& scope,
                     const std::string& new_key);

// Removes the key `old_key` from every encrypted point of `scope` that has
// it. Refused (Error kInvalidArgument, nothing changed) when it is the key
// the scope reads with; a point whose only key it is keeps it (reported as
// failed).
KeySlotReport RemoveKey(const Repository& repo,
                        const KeyScope& scope,
                        const std::string& old_key);

// Gives a tenant or a VM (`scope`) a key of its own, the file `file`
// holding `key`: first every encrypted point of its VMs gets the key
// (unlocked with each VM's key until now); then, when none failed, the
// file is recorded, and new points of those VMs are encrypted with it,
// also in a repository that is not encrypted. Error kInvalidArgument for
// the repository's scope or a VM or tenant that does not exist.
KeySlotReport SetScopeKey(const Repository& repo,
                          const KeyScope& scope,
                          const std::string& file,
                          const std::string& key);

// Which keys open the encrypted points of a scope.
struct KeyUse {
  std::string file;     // a key file
  bool in_use = false;  // the scope's own key
  size_t opens = 0;     // points it opens
};
struct KeyListing {
  RepositoryKey key;  // the scope's key (its file, or why it is missing)
  size_t points = 0;  // encrypted points of the scope
  std::vector<KeyUse> keys;
  // Slots in use that none of the keys above opens, over all points.
  size_t other_slots = 0;
  std::vector<KeySlotChange> unreadable;  // points whose header fails
};
// The scope's key and each of `key_files` against every encrypted point
// of the scope.
KeyListing ListKeys(const Repository& repo,
                    const KeyScope& scope,
                    const std::vector<std::string>& key_files);

}  // namespace sendense
