#pragma once

#include <optional>
#include <string>

#include "engine/catalog/catalog.h"
#include "engine/catalog/vm_configs.h"
#include "engine/repo/repository.h"

namespace sendense {

// Immutable points: each published point's file (and its digests) gets the
// filesystem's immutable flag (FS_IMMUTABLE_FL, `chattr +i`, through the
// ioctl), and the catalog records until when. Nothing that goes through
// Sendense (CLI, API, a stolen token, a mistaken prune) can change or
// delete the file before then; root on the host can (chattr -i).

// Whether files in `dir` can be made immutable; "" or why not, as one
// sentence ("... does not support the immutable flag (ext4, XFS and btrfs
// do)"). Probes with a temporary file.
std::string ImmutableSupport(const std::string& dir);

// Sets or clears the flag of `path`; Error kIo (kUnsupported where the
// filesystem has no such flag) with the reason.
void SetImmutableFlag(const std::string& path, bool on);

// The days points of `vm` stay immutable: the VM's own setting, else the
// repository's (`init --immutable-days`); nullopt for none.
std::optional<double> ImmutableDays(Catalog& catalog, const VmConfig* vm);

// Marks the points of a just published backup immutable for `days`: flags
// first, then the catalog. Error when a flag cannot be set.
void MakeImmutable(const Repository& repo,
                   Catalog& catalog,
                   const BackupRecord& backup,
                   double days);

// Refuses (Error kBusy naming the date) to drop `backup` while one of its
// points, or the child point a drop would merge it into, is immutable;
// clears the flags of those whose time has passed, so that the drop can
// change them.
void RefuseIfImmutable(const Repository& repo,
                       Catalog& catalog,
                       const BackupRecord& backup);

}  // namespace sendense
