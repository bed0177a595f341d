#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/repo/export_records.h"
#include "engine/repo/repository.h"

namespace sendense::exports {

struct ExportRequest {
  std::string vm;
  std::string point;      // "" for the newest complete backup
  std::string disk;       // "" for the VM's only disk
  bool writable = false;  // a temporary QCOW2 overlay takes the writes
  std::string socket;     // a unix socket path; default: in the export's dir
  std::string listen;     // HOST:PORT instead of a socket
  // X.509 files (ca-cert.pem, server-cert.pem, server-key.pem) that let a
  // TCP export listen on an address other than loopback, with TLS and
  // client certificates signed by that CA; "" for loopback only.
  std::string tls_dir;
  std::string owner = "cli";
};

// A record and how it is now.
struct ExportStatus {
  ExportRecord record;
  std::string uri;    // the libnbd URI clients connect to
  std::string state;  // "serving", "dead" (the server is gone), "ended"
  std::string error;  // why it is dead
  uint64_t overlay_bytes = 0;  // what the overlay takes on disk
};

// The export record as everywhere (`export --json`, `exports --json`, the
// API): ExportRecordJson plus "uri", "state", "error", "overlay_bytes".
nlohmann::json ExportJson(const ExportStatus& status);

// Serves a point over NBD through qemu-nbd reading its chain in place
// (checked first: every backing file inside the repository, formats
// recorded, nothing probed); the server holds a lease on the point, and
// the record keeps prune away from it until `EndExport`. Refuses a point
// that is damaged or not complete (ChoosePoint), a busy socket or port, a
// port below 1024, and an address other than loopback without `tls_dir`.
ExportStatus StartExport(const Repository& repo, const ExportRequest& request);

std::vector<ExportStatus> ListExports(const Repository& repo);
ExportStatus GetExport(const Repository& repo, int64_t id);

// Stops the server and removes the record and the overlay; with
// `keep_overlay`, the overlay stays (the record "ended", the point still
// kept from prune) and its path is returned.
std::string EndExport(const Repository& repo, int64_t id, bool keep_overlay);

// Starts the server of a record again (serve, after its own restart or
// when the server died), with the same overlay, socket or port.
void RestartExport(const Repository& repo, ExportRecord& record);

// Stops the server of a record and keeps the record (serve's shutdown).
void StopExport(const Repository& repo, const ExportRecord& record);

}  // namespace sendense::exports
