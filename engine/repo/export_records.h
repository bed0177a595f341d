#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/repo/repository.h"

namespace sendense {

// One point served over NBD (engine/export): what was asked for and where
// its server runs. Kept in REPO/exports/<id>/export.json beside the
// export's overlay (writable exports), socket, pid file and server log, from
// the export until `unexport`; while a record names a backup, prune keeps
// the backup and forget refuses it.
struct ExportRecord {
  int64_t id = 0;
  std::string vm, backup, disk;
  std::string file;     // the point's file, relative to the repository
  std::string socket;   // a unix socket path, or
  std::string listen;   // HOST:PORT
  std::string tls_dir;  // TLS certificates (listen only), or ""
  bool writable = false;
  std::string overlay;  // writable: the overlay's path, else ""
  std::string owner;    // "cli" (ended by unexport) or "serve" (supervised)
  int pid = 0;          // the NBD server's process
  std::string started_at;
  bool ended = false;  // unexport --keep-overlay: no server, overlay kept
};

nlohmann::json ExportRecordJson(const ExportRecord& r);
ExportRecord ParseExportRecord(const nlohmann::json& j);

// The records of a repository. Writes are atomic (a new file renamed over
// the old); ids are never reused.
class ExportRecords {
 public:
  explicit ExportRecords(const Repository& repo);
  // A new export's directory; returns its id.
  int64_t Allocate() const;
  std::string Dir(int64_t id) const;
  const Repository& repo() const { return repo_; }
  void Save(const ExportRecord& record) const;
  std::vector<ExportRecord> List() const;
  std::optional<ExportRecord> Find(int64_t id) const;
  // Removes the export's directory and everything in it.
  void Remove(int64_t id) const;
  // Error kBusy naming the export when one serves (or keeps an overlay
  // on) a point of backup `backup` of `vm`.
  void RefuseIfExported(const std::string& vm, const std::string& backup) const;

 private:
  std::string root_;
  const Repository& repo_;
};

}  // namespace sendense
