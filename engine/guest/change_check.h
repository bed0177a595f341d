#pragma once

// Suspicious change, after a backup is indexed: its guest files against
// those of the VM's indexed point before it (DiffGuestFiles), with the
// entropy of a sample of the changed files read through their extent maps
// (the first 4 KiB of each, straight from the chain, checked), judged by
// CheckSuspicion against the VM's usual share of changed files, and
// recorded in the catalog (docs/suspicious-change.md).

#include <optional>

#include "engine/catalog/catalog.h"
#include "engine/catalog/suspicion.h"
#include "engine/repo/repository.h"

namespace sendense::guest {

// The report recorded for `backup`, or nothing when the VM has no indexed
// point before it to compare with. Throws what reading the index or the
// chains throws; a sample that cannot be read is left out.
std::optional<SuspicionReport> CheckChange(const Repository& repo,
                                           const BackupRecord& backup);

}  // namespace sendense::guest
