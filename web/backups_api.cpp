#include "web/backups_api.h"

#include <nlohmann/json.hpp>

#include "engine/catalog/record_json.h"
#include "engine/repo/capacity_report.h"
#include "web/api_json.h"
#include "web/url.h"

namespace sendense::web {

using json = nlohmann::json;

Response ListBackups(Call& call) {
  json list = json::array();
  for (const auto& b :
       call.db().catalog->Backups(QueryParam(call.query, "vm"))) {
    list.push_back(BackupJson(b));
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

Response RepositoryCapacity(Call& call) {
  return Json(200, CapacityJson(MeasureCapacity(
                       call.ctx.repo, call.db().catalog->Backups(""))));
}

}  // namespace sendense::web
