#include "engine/restore/point_choice.h"

#include <algorithm>

#include "engine/error.h"

namespace sendense::restore {

BackupRecord ChooseBackup(Catalog& catalog,
                          const std::string& vm,
                          const std::string& backup) {
  if (!catalog.FindVm(vm)) {
    throw Error(ErrorKind::kNotFound, "no VM '" + vm + "' in the repository");
  }
  if (backup.empty()) {
    auto backups = catalog.Backups(vm);
    auto newest = std::find_if(backups.rbegin(), backups.rend(),
                               [](const BackupRecord& b) {
                                 return b.state == BackupState::kComplete;
                               });
    if (newest == backups.rend()) {
      throw Error(ErrorKind::kNotFound,
                  "VM '" + vm + "' has no complete backup yet");
    }
    return std::move(*newest);
  }
  auto found = catalog.FindBackup(vm, backup);
  if (!found) {
    throw Error(ErrorKind::kNotFound, "no backup '" + backup + "' of VM '" +
                                          vm + "' (see `sendense list`)");
  }
  if (found->state != BackupState::kComplete) {
    throw Error(ErrorKind::kInvalidArgument,
                "backup '" + backup + "' of VM '" + vm + "' is " +
                    std::string(StateName(found->state)) +
                    ", not complete: pick a complete one");
  }
  return std::move(*found);
}

ChosenPoint ChoosePoint(Catalog& catalog,
                        const std::string& vm,
                        const std::string& backup,
                        const std::string& disk) {
  ChosenPoint chosen;
  chosen.backup = ChooseBackup(catalog, vm, backup);
  const auto& points = chosen.backup.points;
  const PointRecord* point = nullptr;
  std::string names;
  for (const auto& p : points) {
    names += (names.empty() ? "" : ", ") + p.disk;
    if (p.disk == disk || (disk.empty() && points.size() == 1)) {
      point = &p;
    }
  }
  if (point == nullptr) {
    throw Error(
        ErrorKind::kInvalidArgument,
        disk.empty()
            ? "VM '" + vm + "' has disks " + names + ": choose one with --disk"
            : "backup '" + chosen.backup.name + "' of VM '" + vm +
                  "' has no disk '" + disk + "' (it has " + names + ")");
  }
  if (Damaged(point->verify_state)) {
    throw Error(ErrorKind::kCorrupt,
                "disk " + point->disk + " of backup '" + chosen.backup.name +
                    "' of VM '" + vm + "' is " +
                    StateName(point->verify_state) +
                    " (see `sendense verify`): pick an earlier point that "
                    "verifies ok");
  }
  chosen.point = *point;
  return chosen;
}

}  // namespace sendense::restore
