#include "engine/repo/damage_record.h"

#include "engine/log.h"
#include "engine/time.h"

namespace sendense {
namespace {

// The catalog's name of a file of the repository; "" for one outside it.
std::string Relative(const Repository& repo, const std::string& path) {
  const std::string prefix = repo.path() + "/";
  return path.rfind(prefix, 0) == 0 ? path.substr(prefix.size()) : "";
}

void Mark(const Repository& repo,
          Catalog* catalog,
          const std::string& path,
          const nlohmann::json& problems) {
  const std::string file = Relative(repo, path);
  if (file.empty()) {
    return;  // an export's overlay, a copy's temporary file: not a point
  }
  try {
    if (catalog) {
      catalog->MarkDamaged(file, NowIso(), problems.dump());
    } else {
      repo.OpenCatalogForWriting()->MarkDamaged(file, NowIso(),
                                                problems.dump());
    }
  } catch (const std::exception& failed) {
    Log(LogLevel::kError,
        "cannot record the damage of " + file + ": " + failed.what());
  }
}

nlohmann::json ReadProblem(const qcow2::DigestMismatch& e) {
  return nlohmann::json::array(
      {{{"offset", e.offset()},
        {"length", e.length()},
        {"what", "read: stored data does not match its digest"}}});
}

}  // namespace

void RecordReadDamage(const Repository& repo,
                      Catalog& catalog,
                      const qcow2::DigestMismatch& e) {
  Log(LogLevel::kError, e.what());
  Mark(repo, &catalog, e.path(), ReadProblem(e));
}

void RecordReadDamage(const Repository& repo, const qcow2::DigestMismatch& e) {
  Log(LogLevel::kError, e.what());
  Mark(repo, nullptr, e.path(), ReadProblem(e));
}

void RecordCheckDamage(const Repository& repo,
                       const std::string& path,
                       const std::vector<qcow2::Problem>& problems) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& p : problems) {
    out.push_back(
        {{"offset", p.offset}, {"length", p.length}, {"what", p.what}});
  }
  Log(LogLevel::kError, path + " is damaged: " + out.dump());
  Mark(repo, nullptr, path, out);
}

}  // namespace sendense
