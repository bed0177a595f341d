#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "engine/catalog/catalog.h"
#include "engine/qcow2/chain_reader.h"
#include "engine/qcow2/check.h"
#include "engine/repo/repository.h"

namespace sendense {

// Any reader that finds stored data not matching its digest (the tree, an
// archive, a restore, a copy, an export's check) marks the point damaged,
// as verify would: list, the API, backup.json and the dashboard then say
// so, and restore, export and copy refuse it. These log what was found and
// never throw: a failure to record it is logged too.

// What a checked read found (`e.path()` is the layer's absolute path).
void RecordReadDamage(const Repository& repo,
                      Catalog& catalog,
                      const qcow2::DigestMismatch& e);
void RecordReadDamage(const Repository& repo, const qcow2::DigestMismatch& e);

// What qcow2::CheckPoint found in the point stored at `path` (absolute).
void RecordCheckDamage(const Repository& repo,
                       const std::string& path,
                       const std::vector<qcow2::Problem>& problems);

}  // namespace sendense
