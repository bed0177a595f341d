#pragma once

// diff: what changed in a VM's guest files between two of its points,
// read from the guest file index alone (no appliance, no disk read). The
// CLI's `diff --json`, GET /api/v1/diff and the dashboard's "what
// changed" view print the same record (docs/api.md).

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/catalog/catalog.h"
#include "engine/catalog/guest_index.h"

namespace sendense {

struct GuestChange {
  enum class Kind { kAdded, kRemoved, kChanged, kRenamed };
  Kind kind = Kind::kChanged;
  std::string filesystem;
  std::string path;       // in the newer point (removed: in the older)
  std::string from_path;  // renamed: where it was
  uint32_t mode = 0;      // with the type bits, as the newer point has it
  uint64_t size = 0, from_size = 0;
  // changed (and renamed): of "type", "size", "content", "mtime", "mode",
  // "owner", "target"; "content" where the index can tell it: the size
  // or the file's extent map (where its data lies) moved, or an unmapped
  // file's mtime.
  std::vector<std::string> what;
  int64_t entry_id = 0;  // the index entry in the newer point (0: removed)
};

struct GuestDiff {
  std::string vm, from, to;  // backup names
  std::string filesystem;    // the --path's filesystem, "" for all
  std::string path;          // "/" for everything
  // Per filesystem: "compared", "added" (only in `to`), "removed" (only
  // in `from`), or "failed" (not indexed in one of them: `error` says).
  struct Filesystem {
    std::string name, state, error;
  };
  std::vector<Filesystem> filesystems;
  std::vector<GuestChange> changes;  // by filesystem, then path
  size_t added = 0, removed = 0, changed = 0, renamed = 0;
  size_t from_files = 0, to_files = 0;  // entries compared on each side
};

// The guest files of `vm` at `from` against `to` (complete, indexed
// points; the older first is usual, either order works). `spec` limits
// it to a path and what is under it: "/etc" (any filesystem), "sda1:/etc";
// "" is everything. A file whose inode moved to a new path (the same
// inode, type and mtime or extent map) is renamed; the files of a renamed
// folder are not listed again. Errors: kNotFound for an unknown point,
// kInvalidArgument for a point never indexed (with the command that
// indexes it) or a relative path.
GuestDiff DiffGuestFiles(Catalog& catalog,
                         GuestIndex& index,
                         const std::string& vm,
                         const std::string& from,
                         const std::string& to,
                         const std::string& spec);

// {"vm", "from", "to", "path", "filesystems": [{"name", "state",
// "error"}], "summary": {"added", "removed", "changed", "renamed",
// "from_files", "to_files"}, "changes": [{"change", "filesystem", "path",
// "from_path", "type", "size", "from_size", "what"}], "truncated"}: at
// most `limit` changes (the summary counts them all).
nlohmann::json GuestDiffJson(const GuestDiff& diff, size_t limit);

}  // namespace sendense
