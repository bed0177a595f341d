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

const char* StateName(BackupPhase phase) {
  switch (phase) {
    case BackupPhase::kQueued:
      return "queued";
    case BackupPhase::kCopying:
      return "copying";
    case BackupPhase::kIndexing:
      return "indexing";
    case BackupPhase::kPruning:
      return "pruning";
    case BackupPhase::kVerifying:
      return "verifying";
    case BackupPhase::kDone:
      return "done";
  }
  return "?";
}

const char* KindName(PointKind kind) {
  return kind == PointKind::kFull ? "full" : "incremental";
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

}  // namespace sendense
