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
// What a job of the runner does.
enum class JobKind { kBackup, kPrune, kForget, kVerify, kRestore, kCopy };
// Where a running job is (its phase): a backup copies then indexes; a
// prune or forget prunes; a verify verifies.
enum class JobPhase {
  kQueued,
  kCopying,
  kIndexing,
  kPruning,
  kVerifying,
  kDone
};
// A job of the runner.
enum class JobState { kQueued, kRunning, kComplete, kFailed, kCancelled };
// What verify found for a point, from best to worst: sound; never checked
// (or no digests to check against); built on a damaged point (a point
// below it in its chain); damaged itself. Worse states compare greater.
enum class VerifyState { kOk, kUnverified, kDependsOnDamaged, kDamaged };
// How well a VM is protected, worst first: a complete point is damaged or
// built on one; the newest finished backup failed or was interrupted; no
// complete backup yet; scheduled, and the newest complete backup is older
// than one and a half schedule periods; else ok.
enum class Health { kDamaged, kFailed, kNever, kLate, kOk };
// What a user or token may do, each role including the ones before it:
// audit reads; restore also browses, downloads and restores; operator
// also backs up, verifies, exports and copies; admin also adds and
// removes VMs, users and tokens, sets retention, prunes and forgets.
// An admin of no tenant administers the whole appliance.
enum class Role { kAudit, kRestore, kOperator, kAdmin };

const char* StateName(BackupState state);
const char* StateName(JobState state);
const char* KindName(PointKind kind);
const char* KindName(JobKind kind);
const char* StateName(JobPhase phase);
const char* StateName(VerifyState state);
const char* StateName(Health health);
const char* RoleName(Role role);
// Error kInvalidArgument naming the roles for an unknown name.
Role ParseRole(const std::string& name);
// Error kCorrupt for a name no version wrote.
PointKind ParsePointKind(const std::string& name);
// The state named `name` (as stored in the catalog); Error kCorrupt for a
// name no version wrote.
BackupState ParseBackupState(const std::string& name);
VerifyState ParseVerifyState(const std::string& name);

// Its bytes cannot be trusted: damaged, or built on a damaged point.
inline bool Damaged(VerifyState s) {
  return s >= VerifyState::kDependsOnDamaged;
}

// A job that has not ended.
inline bool Active(JobState s) {
  return s == JobState::kQueued || s == JobState::kRunning;
}

}  // namespace sendense
