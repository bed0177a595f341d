#pragma once

#include <string>

#include "engine/catalog/catalog.h"

namespace sendense::restore {

// One point picked by the names a user gives.
struct ChosenPoint {
  BackupRecord backup;
  PointRecord point;
};

// Backup `backup` of `vm` ("" for the newest complete one), complete.
// Error kNotFound / kInvalidArgument, one sentence each.
BackupRecord ChooseBackup(Catalog& catalog,
                          const std::string& vm,
                          const std::string& backup);

// The point of `disk` in backup `backup` of `vm`: the newest complete
// backup when `backup` is "", the VM's only disk when `disk` is "".
// Refuses a backup that is not complete and a point verify found damaged
// or built on a damaged point. Error kNotFound / kInvalidArgument /
// kCorrupt, each one sentence that names what to pass instead.
ChosenPoint ChoosePoint(Catalog& catalog,
                        const std::string& vm,
                        const std::string& backup,
                        const std::string& disk);

}  // namespace sendense::restore
