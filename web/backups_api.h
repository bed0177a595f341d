#pragma once

// The API's routes over stored points (docs/api.md): backups and the
// repository's capacity.

#include "engine/repo/capacity_report.h"
#include "web/routes.h"

namespace sendense::web {

// GET /api/v1/backups[?vm=V]: {"backups": [BACKUP...]}.
Response ListBackups(Call& call);
// GET /api/v1/backups/VM/BACKUP: the backup with its "filesystems" and
// "guest_index".
Response GetBackup(Call& call);
// POST /api/v1/backups/{vm}/{backup}/review: a suspicious point reviewed
// (409 when it is not marked suspicious); the backup record.
Response ReviewPoint(Call& call);
// GET /api/v1/repository: CAPACITY (a tenant's caller: its tenant's).
Response RepositoryCapacity(Call& call);

// The backups of every VM the caller sees, oldest first.
std::vector<BackupRecord> VisibleBackups(Call& call);
// The repository's capacity, or a tenant's caller's tenant's, from
// `backups` (VisibleBackups).
CapacityReport CapacityFor(Call& call,
                           const std::vector<BackupRecord>& backups);

}  // namespace sendense::web
