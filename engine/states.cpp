#include "engine/states.h"

#include "engine/error.h"

namespace sendense {

const char* StateName(BackupState state) {
  switch (state) {
    case BackupState::kRunning:
      return "running";
    case BackupState::kComplete:
      return "complete";
    case BackupState::kFailed:
      return "failed";
    case BackupState::kInterrupted:
      return "interrupted";
    case BackupState::kDropping:
      return "dropping";
  }
  return "?";
}

const char* StateName(JobState state) {
  switch (state) {
    case JobState::kQueued:
      return "queued";
    case JobState::kRunning:
      return "running";
    case JobState::kComplete:
      return "complete";
    case JobState::kFailed:
      return "failed";
    case JobState::kCancelled:
      return "cancelled";
  }
  return "?";
}

const char* StateName(JobPhase phase) {
  switch (phase) {
    case JobPhase::kQueued:
      return "queued";
    case JobPhase::kCopying:
      return "copying";
    case JobPhase::kIndexing:
      return "indexing";
    case JobPhase::kPruning:
      return "pruning";
    case JobPhase::kVerifying:
      return "verifying";
    case JobPhase::kDone:
      return "done";
  }
  return "?";
}

const char* StateName(VerifyState state) {
  switch (state) {
    case VerifyState::kOk:
      return "ok";
    case VerifyState::kUnverified:
      return "unverified";
    case VerifyState::kDependsOnDamaged:
      return "depends-on-damaged";
    case VerifyState::kDamaged:
      return "damaged";
  }
  return "?";
}

const char* StateName(Health health) {
  switch (health) {
    case Health::kDamaged:
      return "damaged";
    case Health::kFailed:
      return "failed";
    case Health::kNever:
      return "never";
    case Health::kLate:
      return "late";
    case Health::kOk:
      return "ok";
  }
  return "?";
}

const char* KindName(PointKind kind) {
  return kind == PointKind::kFull ? "full" : "incremental";
}

const char* KindName(JobKind kind) {
  switch (kind) {
    case JobKind::kBackup:
      return "backup";
    case JobKind::kPrune:
      return "prune";
    case JobKind::kForget:
      return "forget";
    case JobKind::kVerify:
      return "verify";
    case JobKind::kRestore:
      return "restore";
    case JobKind::kCopy:
      return "copy";
  }
  return "?";
}

PointKind ParsePointKind(const std::string& name) {
  if (name == "full" || name == "incremental") {
    return name == "full" ? PointKind::kFull : PointKind::kIncremental;
  }
  throw Error(ErrorKind::kCorrupt,
              "catalog: unknown point kind '" + name + "'");
}

BackupState ParseBackupState(const std::string& name) {
  for (BackupState s :
       {BackupState::kRunning, BackupState::kComplete, BackupState::kFailed,
        BackupState::kInterrupted, BackupState::kDropping}) {
    if (name == StateName(s)) {
      return s;
    }
  }
  throw Error(ErrorKind::kCorrupt,
              "catalog: unknown backup state '" + name + "'");
}

VerifyState ParseVerifyState(const std::string& name) {
  for (VerifyState s :
       {VerifyState::kOk, VerifyState::kUnverified,
        VerifyState::kDependsOnDamaged, VerifyState::kDamaged}) {
    if (name == StateName(s)) {
      return s;
    }
  }
  throw Error(ErrorKind::kCorrupt,
              "catalog: unknown verify state '" + name + "'");
}

const char* RoleName(Role role) {
  switch (role) {
    case Role::kAudit:
      return "audit";
    case Role::kRestore:
      return "restore";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
  }
  return "?";
}

Role ParseRole(const std::string& name) {
  for (Role r : {Role::kAudit, Role::kRestore, Role::kOperator, Role::kAdmin}) {
    if (name == RoleName(r)) {
      return r;
    }
  }
  throw Error(ErrorKind::kInvalidArgument,
              "unknown role '" + name +
                  "': roles are admin, operator, restore and audit");
}

}  // namespace sendense
