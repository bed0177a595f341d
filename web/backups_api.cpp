#include "web/backups_api.h"

#include <nlohmann/json.hpp>

#include "engine/catalog/record_json.h"
#include "engine/repo/capacity_report.h"
#include "engine/repo/known_vms.h"
#include "engine/repo/tenant_usage.h"
#include "engine/time.h"
#include "web/api_json.h"
#include "web/url.h"

namespace sendense::web {

using json = nlohmann::json;

Response ListBackups(Call& call) {
  json list = json::array();
  for (const auto& b :
       call.db().catalog->Backups(QueryParam(call.query, "vm"))) {
    if (call.Sees(b.vm)) {
      list.push_back(BackupJson(b));
    }
  }
  return Json(200, {{"backups", list}});
}

Response GetBackup(Call& call) {
  auto& db = call.db();
  const BackupRecord b = db.catalog->RequireBackup(call.args[0], call.args[1]);
  json j = BackupJson(b);
  json fss = json::array();
  for (const auto& f : db.index->Filesystems(b.id)) {
    fss.push_back(GuestFilesystemJson(f));
  }
  j["filesystems"] = fss;
  j["guest_index"] = GuestIndexJson(db.index->LastRun(b.id));
  return Json(200, j);
}

Response ReviewPoint(Call& call) {
  const BackupRecord b =
      call.db().catalog->RequireBackup(call.args[0], call.args[1]);
  auto catalog = call.ctx.repo.OpenCatalogForWriting();
  if (!catalog->MarkReviewed(b.id, NowIso())) {
    return Fail(409, b.vm + " " + b.name + " is not marked suspicious");
  }
  return Json(200, BackupJson(catalog->RequireBackup(b.vm, b.name)));
}

std::vector<BackupRecord> VisibleBackups(Call& call) {
  auto backups = call.db().catalog->Backups("");
  std::erase_if(backups,
                [&](const BackupRecord& b) { return !call.Sees(b.vm); });
  return backups;
}

CapacityReport CapacityFor(Call& call,
                           const std::vector<BackupRecord>& backups) {
  if (call.who.tenant.empty()) {
    return MeasureCapacity(call.ctx.repo, backups);
  }
  auto& db = call.db();
  return MeasureTenantCapacity(call.ctx.repo, *db.accounts, call.who.tenant,
                               KnownVms(*db.catalog, *db.vms), backups);
}

Response RepositoryCapacity(Call& call) {
  return Json(200, CapacityJson(CapacityFor(call, VisibleBackups(call))));
}

}  // namespace sendense::web
