#include "engine/export/exports.h"

#include <sys/stat.h>

#include <filesystem>

#include "engine/error.h"
#include "engine/io/listen_address.h"
#include "engine/nbd/nbd_server.h"
#include "engine/qcow2/chain_reader.h"
#include "engine/qcow2/check.h"
#include "engine/qcow2/point_writer.h"
#include "engine/repo/damage_record.h"
#include "engine/repo/point_lease.h"
#include "engine/repo/repository_key.h"
#include "engine/restore/point_choice.h"
#include "engine/time.h"

namespace sendense::exports {
namespace {

namespace fs = std::filesystem;

constexpr std::chrono::milliseconds kLeaseWait{2000};
constexpr size_t kMaxSocketPath = 107;  // sockaddr_un.sun_path, less NUL

std::string PidFile(const ExportRecords& records, int64_t id) {
  return records.Dir(id) + "/qemu-nbd.pid";
}

std::string Uri(const ExportRecord& r) {
  if (!r.socket.empty()) {
    return "nbd+unix:///?socket=" + r.socket;
  }
  const auto [host, port] = ParseListen(r.listen);
  const bool v6 = host.find(':') != std::string::npos;
  return (r.tls_dir.empty() ? "nbd://" : "nbds://") +
         (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/";
}

// Starts the record's server; the lease on the point lives in it.
void Spawn(const Repository& repo,
           const ExportRecords& records,
           ExportRecord& r) {
  const std::string point = repo.Absolute(r.file);
  const PointLease lease(point, PointLease::Mode::kShared, kLeaseWait);
  NbdServerSpec spec;
  spec.image = r.writable ? r.overlay : point;
  spec.writable = r.writable;
  spec.socket = r.socket;
  if (r.socket.empty()) {
    const auto [host, port] = ParseListen(r.listen);
    spec.listen_host = host;
    spec.listen_port = port;
    spec.tls_dir = r.tls_dir;
  }
  spec.pid_file = PidFile(records, r.id);
  spec.log_file = records.Dir(r.id) + "/qemu-nbd.log";
  spec.inherit_fd = lease.fd();
  // Encrypted layers: qemu-nbd gets the repository's key file as its
  // secret (checked here first: a missing or wrong key is one sentence).
  const auto chain = qcow2::ChainReader::Open(point);
  for (size_t i = 0; i < chain->depth(); ++i) {
    if (chain->layer(i).encrypted()) {
      spec.encrypted_layers.push_back(i + (r.writable ? 1 : 0));
    }
  }
  if (!spec.encrypted_layers.empty()) {
    const RepositoryKey key = LoadKey(repo, r.vm);
    qcow2::ChainReader::Options unlock;
    unlock.luks_passphrase = RequireKey(key);
    qcow2::ChainReader::Open(point, unlock);
    spec.key_file = key.file;
  }
  if (!r.socket.empty()) {
    std::error_code ec;
    fs::remove(r.socket, ec);  // a dead server's socket
  }
  r.pid = StartNbdServer(spec);
  r.started_at = NowIso();
}

// An empty QCOW2 over the point: writes land here, reads fall through.
void CreateOverlay(const std::string& path,
                   const std::string& point,
                   uint64_t size) {
  qcow2::PointWriterOptions options;
  options.virtual_size = size;
  options.backing_name = point;  // absolute: the overlay lives elsewhere
  qcow2::PointWriter writer(path, options);
  writer.Finish();
}

// A disk served over TCP is the whole disk to whoever connects: loopback
// only, unless the admin gave TLS certificates (then with client
// certificates), and never on a privileged port.
void CheckListen(const std::string& listen, const std::string& tls_dir) {
  const auto [host, port] = ParseListen(listen);
  if (port < 1024) {
    throw Error(
        ErrorKind::kInvalidArgument,
        "an export's port must be 1024 to 65535, not " + std::to_string(port));
  }
  if (IsLoopbackAddress(host)) {
    return;
  }
  if (tls_dir.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                "exports listen on loopback only (127.0.0.1 or ::1), not '" +
                    host + "', unless they have TLS certificates",
                Remedy::kGiveExportTls);
  }
  for (const char* name :
       {"ca-cert.pem", "server-cert.pem", "server-key.pem"}) {
    if (!fs::exists(fs::path(tls_dir) / name)) {
      throw Error(ErrorKind::kInvalidArgument,
                  "the TLS directory " + tls_dir + " has no " + name);
    }
  }
}

// qemu-nbd serves stored bytes as they are: every layer of the chain is
// checked against its digests before it may (what verify does, for this
// chain only: a read of every stored cluster). A damaged layer is marked
// damaged and the export refused. Returns the disk's size.
uint64_t CheckChain(const Repository& repo, const std::string& top) {
  const auto chain = qcow2::ChainReader::Open(top);
  for (size_t i = 0; i < chain->depth(); ++i) {
    const std::string& layer = chain->layer(i).path();
    const auto check = qcow2::CheckPoint(layer);
    if (!check.problems.empty()) {
      RecordCheckDamage(repo, layer, check.problems);
      throw Error(ErrorKind::kCorrupt,
                  "the point is damaged (" +
                      fs::path(layer).filename().string() + ": " +
                      check.problems.front().what +
                      "): not exported; it is marked damaged, and `sendense "
                      "verify` tells more");
    }
  }
  return chain->size();
}

ExportStatus StatusOf(const ExportRecords& records, const ExportRecord& r) {
  ExportStatus s;
  s.record = r;
  s.uri = r.ended ? "" : Uri(r);
  if (r.ended) {
    s.state = "ended";
  } else if (NbdServerAlive(r.pid, PidFile(records, r.id))) {
    s.state = "serving";
  } else {
    s.state = "dead";
    s.error = "the NBD server (pid " + std::to_string(r.pid) +
              ") is gone: end the export with `" +
              records.repo().Command("unexport " + std::to_string(r.id)) +
              "` or export the point again";
  }
  struct stat st {};
  if (!r.overlay.empty() && ::stat(r.overlay.c_str(), &st) == 0) {
    s.overlay_bytes = static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return s;
}

}  // namespace

nlohmann::json ExportJson(const ExportStatus& s) {
  auto j = ExportRecordJson(s.record);
  j["uri"] = s.uri;
  j["state"] = s.state;
  j["error"] = s.error;
  j["overlay_bytes"] = s.overlay_bytes;
  return j;
}

ExportStatus StartExport(const Repository& repo, const ExportRequest& request) {
  if (!request.socket.empty() && !request.listen.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                "give --socket or --listen, not both");
  }
  if (!request.listen.empty()) {
    CheckListen(request.listen, request.tls_dir);
  }
  const auto chosen = [&] {
    auto catalog = repo.OpenCatalog();
    return restore::ChoosePoint(*catalog, request.vm, request.point,
                                request.disk);
  }();
  // The chain as qemu-nbd will open it, checked by our own reader first.
  const uint64_t size = CheckChain(repo, repo.Absolute(chosen.point.file));

  const ExportRecords records(repo);
  ExportRecord r;
  r.id = records.Allocate();
  r.vm = chosen.backup.vm;
  r.backup = chosen.backup.name;
  r.disk = chosen.point.disk;
  r.file = chosen.point.file;
  r.writable = request.writable;
  r.owner = request.owner;
  r.listen = request.listen;
  if (!request.listen.empty() &&
      !IsLoopbackAddress(ParseListen(request.listen).first)) {
    r.tls_dir = fs::absolute(request.tls_dir).string();
  }
  if (request.listen.empty()) {
    r.socket = request.socket.empty() ? records.Dir(r.id) + "/nbd.sock"
                                      : fs::absolute(request.socket).string();
    if (r.socket.size() > kMaxSocketPath) {
      records.Remove(r.id);
      throw Error(ErrorKind::kInvalidArgument,
                  "the socket path " + r.socket +
                      " is too long for a unix socket: give a shorter "
                      "--socket");
    }
  }
  try {
    if (r.writable) {
      r.overlay = records.Dir(r.id) + "/overlay.qcow2";
      CreateOverlay(r.overlay, repo.Absolute(r.file), size);
    }
    Spawn(repo, records, r);
    records.Save(r);
  } catch (...) {
    if (r.pid > 0) {
      StopNbdServer(r.pid, PidFile(records, r.id));
    }
    records.Remove(r.id);
    throw;
  }
  return StatusOf(records, r);
}

std::vector<ExportStatus> ListExports(const Repository& repo) {
  const ExportRecords records(repo);
  std::vector<ExportStatus> out;
  for (const auto& r : records.List()) {
    out.push_back(StatusOf(records, r));
  }
  return out;
}

ExportStatus GetExport(const Repository& repo, int64_t id) {
  const ExportRecords records(repo);
  const auto r = records.Find(id);
  if (!r) {
    throw Error(ErrorKind::kNotFound, "no export " + std::to_string(id) +
                                          " (see `" + repo.Command("exports") +
                                          "`)");
  }
  return StatusOf(records, *r);
}

std::string EndExport(const Repository& repo, int64_t id, bool keep_overlay) {
  const ExportRecords records(repo);
  auto r = GetExport(repo, id).record;
  StopNbdServer(r.pid, PidFile(records, r.id));
  if (keep_overlay && !r.overlay.empty()) {
    r.ended = true;
    r.pid = 0;
    records.Save(r);
    return r.overlay;
  }
  records.Remove(id);
  return "";
}

void RestartExport(const Repository& repo, ExportRecord& record) {
  const ExportRecords records(repo);
  Spawn(repo, records, record);
  records.Save(record);
}

void StopExport(const Repository& repo, const ExportRecord& record) {
  const ExportRecords records(repo);
  StopNbdServer(record.pid, PidFile(records, record.id));
}

}  // namespace sendense::exports
