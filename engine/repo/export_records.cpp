#include "engine/repo/export_records.h"

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/error.h"
#include "engine/io/file.h"

namespace sendense {

namespace fs = std::filesystem;

nlohmann::json ExportRecordJson(const ExportRecord& r) {
  return {{"id", r.id},
          {"vm", r.vm},
          {"backup", r.backup},
          {"disk", r.disk},
          {"file", r.file},
          {"socket", r.socket},
          {"listen", r.listen},
          {"tls_dir", r.tls_dir},
          {"writable", r.writable},
          {"overlay", r.overlay},
          {"owner", r.owner},
          {"pid", r.pid},
          {"started_at", r.started_at},
          {"ended", r.ended}};
}

ExportRecord ParseExportRecord(const nlohmann::json& j) {
  ExportRecord r;
  r.id = j.at("id").get<int64_t>();
  r.vm = j.at("vm").get<std::string>();
  r.backup = j.at("backup").get<std::string>();
  r.disk = j.at("disk").get<std::string>();
  r.file = j.at("file").get<std::string>();
  r.socket = j.value("socket", "");
  r.listen = j.value("listen", "");
  r.tls_dir = j.value("tls_dir", "");
  r.writable = j.value("writable", false);
  r.overlay = j.value("overlay", "");
  r.owner = j.value("owner", "cli");
  r.pid = j.value("pid", 0);
  r.started_at = j.value("started_at", "");
  r.ended = j.value("ended", false);
  return r;
}

ExportRecords::ExportRecords(const Repository& repo)
    : root_(repo.Absolute("exports")), repo_(repo) {}

std::string ExportRecords::Dir(int64_t id) const {
  return root_ + "/" + std::to_string(id);
}

int64_t ExportRecords::Allocate() const {
  std::error_code ec;
  fs::create_directories(root_, ec);
  ThrowIfFailed(ec, "cannot create " + root_);
  // Ids are never reused, even once an export has ended: a script's
  // `unexport 3` must not end someone else's later export. The last id
  // given is kept in exports/last-id.
  const std::string last_file = root_ + "/last-id";
  int64_t id = 1;
  {
    std::ifstream in(last_file);
    int64_t last = 0;
    if (in >> last && last > 0) {
      id = last + 1;
    }
  }
  for (const auto& r : List()) {
    id = std::max(id, r.id + 1);
  }
  for (;; ++id) {
    if (fs::create_directory(Dir(id), ec)) {
      WriteFileAtomically(last_file, std::to_string(id) + "\n", 0600);
      return id;
    }
    ThrowIfFailed(ec, "cannot create " + Dir(id));
  }
}

void ExportRecords::Save(const ExportRecord& record) const {
  WriteFileAtomically(Dir(record.id) + "/export.json",
                      ExportRecordJson(record).dump(2) + "\n", 0600);
}

std::vector<ExportRecord> ExportRecords::List() const {
  std::vector<ExportRecord> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root_, ec)) {
    std::ifstream in(entry.path() / "export.json");
    if (!in) {
      continue;  // being created, or a leftover without a record
    }
    std::stringstream text;
    text << in.rdbuf();
    try {
      out.push_back(ParseExportRecord(nlohmann::json::parse(text.str())));
    } catch (const std::exception& e) {
      throw Error(ErrorKind::kCorrupt, "the export record " +
                                           entry.path().string() +
                                           " cannot be read: " + e.what());
    }
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

std::optional<ExportRecord> ExportRecords::Find(int64_t id) const {
  for (auto& r : List()) {
    if (r.id == id) {
      return std::move(r);
    }
  }
  return std::nullopt;
}

void ExportRecords::Remove(int64_t id) const {
  std::error_code ec;
  fs::remove_all(Dir(id), ec);
  ThrowIfFailed(ec, "cannot remove " + Dir(id));
}

void ExportRecords::RefuseIfExported(const std::string& vm,
                                     const std::string& backup) const {
  for (const auto& r : List()) {
    if (r.vm == vm && r.backup == backup) {
      throw Error(ErrorKind::kBusy,
                  "backup '" + backup + "' of VM '" + vm + "' is exported " +
                      (r.ended ? "(export " + std::to_string(r.id) +
                                     " keeps an overlay on it)"
                               : "(export " + std::to_string(r.id) + ")") +
                      ": end it with `" +
                      repo_.Command("unexport " + std::to_string(r.id)) +
                      "` first");
    }
  }
}

}  // namespace sendense
