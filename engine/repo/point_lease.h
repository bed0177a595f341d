#pragma once

#include <chrono>
#include <string>

#include "engine/io/file.h"

namespace sendense {

// Who may use a point's file. Readers of a point (a raw disk or guest file
// of it open in the tree, a download, a restore) hold a shared lease on its
// file (flock LOCK_SH); a prune merging into the file holds it exclusively,
// so it never changes a point under someone reading that point. Readers of
// other points that only read the file as a backing file need no lease:
// a merge keeps every other point's bytes. Locks die with their process.
class PointLease {
 public:
  enum class Mode { kShared, kExclusive };
  // Takes the lease on `path`, waiting up to `wait` while the other kind is
  // held. Error kBusy when it stays held ("...is being pruned" for a
  // reader; "...is open" for a prune), kNotFound when the file is gone.
  PointLease(const std::string& path,
             Mode mode,
             std::chrono::milliseconds wait);

  // The locked descriptor: a child process that inherits it holds the
  // lease as long as it lives (flock locks belong to the open file).
  int fd() const { return file_.fd(); }

 private:
  File file_;
};

}  // namespace sendense
