#include "engine/jobs/backup_then_index.h"

#include <chrono>

#include "engine/guest/indexer.h"

namespace sendense {

BackupOutcome BackUpThenIndex(const Repository& repo,
                              const BackupRequest& request,
                              JobProgress& progress,
                              bool index,
                              const std::function<void()>& copied) {
  BackupOutcome out;
  out.backup = RunBackup(repo, request, progress);
  if (copied) {
    copied();
  }
  if (!index) {
    return out;
  }
  progress.phase = JobPhase::kIndexing;
  out.index.ran = true;
  const auto start = std::chrono::steady_clock::now();
  try {
    auto catalog = repo.OpenCatalog();
    if (auto b = catalog->FindBackup(out.backup.vm, out.backup.backup)) {
      out.index.filesystems =
          guest::IndexBackup(repo, *b, &progress.entries_indexed);
    }
  } catch (const std::exception& e) {
    out.index.error = e.what();
  }
  out.index.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return out;
}

}  // namespace sendense
