#pragma once

#include <string>

namespace sendense {

// A backup's life: running until it completes, fails, or its process dies
// (interrupted); a complete backup being pruned is "dropping" (hidden from
// the tree; its points are merged away). Stored and shown by name.
enum class BackupState {
  kRunning,
  kComplete,
  kFailed,
  kInterrupted,
  kDropping
};
// A point: a whole disk, or what changed since the point it is over.
enum class PointKind { kFull, kIncremental };
// Where a running job is (its phase): a backup copies then indexes; a
// prune or forget prunes; a verify verifies.
enum class BackupPhase {
  kQueued,
  kCopying,
  kIndexing,
  kPruning,
  kVerifying,
  kDone
};
// A job of the runner.
enum class JobState { kQueued, kRunning, kComplete, kFailed, kCancelled };

const char* StateName(BackupState state);
const char* StateName(JobState state);
const char* KindName(PointKind kind);
const char* StateName(BackupPhase phase);
// Error kCorrupt for a name no version wrote.
PointKind ParsePointKind(const std::string& name);
// The state named `name` (as stored in the catalog); Error kCorrupt for a
// name no version wrote.
BackupState ParseBackupState(const std::string& name);

// A job that has not ended.
inline bool Active(JobState s) {
  return s == JobState::kQueued || s == JobState::kRunning;
}

}  // namespace sendense
