#pragma once

// The API's routes over stored points (docs/api.md): backups and the
// repository's capacity.

#include "web/routes.h"

namespace sendense::web {

// GET /api/v1/backups[?vm=V]: {"backups": [BACKUP...]}.
Response ListBackups(Call& call);
// GET /api/v1/backups/VM/BACKUP: the backup with its "filesystems" and
// "guest_index".
Response GetBackup(Call& call);
// GET /api/v1/repository: CAPACITY.
Response RepositoryCapacity(Call& call);

}  // namespace sendense::web
