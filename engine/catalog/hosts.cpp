#include "engine/catalog/hosts.h"

#include "engine/catalog/catalog.h"
#include "engine/catalog/names.h"
#include "engine/error.h"
#include "engine/io/nbd_uri.h"
#include "engine/time.h"

namespace sendense {
namespace {

const std::string& Migrated(const std::string& path) {
  Catalog migrate(path, false);
  return path;
}

constexpr const char* kColumns =
    "SELECT name, libvirt, nbd_address, nbd_tls, insecure_nbd, port_min, "
    "port_max, max_jobs, created_at, server_tls FROM hosts ";

Host ReadHost(const sqlite::Statement& s) {
  Host h;
  h.name = s.Text(0);
  h.libvirt = s.Text(1);
  h.nbd_address = s.Text(2);
  h.nbd_tls = s.Text(3);
  h.insecure_nbd = s.Int(4) != 0;
  h.port_min = static_cast<int>(s.Int(5));
  h.port_max = static_cast<int>(s.Int(6));
  if (!s.IsNull(7)) {
    h.max_jobs = s.Int(7);
  }
  h.created_at = s.Text(8);
  h.server_tls = s.Text(9);
  return h;
}

}  // namespace

std::optional<Host> FindHost(sqlite::Database& db, const std::string& name) {
  auto s = db.Prepare(std::string(kColumns) + "WHERE name = ?");
  s.Bind(1, name);
  if (!s.Step()) {
    return std::nullopt;
  }
  return ReadHost(s);
}

namespace {

void Check(const Host& h) {
  ValidateName("host name", h.name);
  if (h.libvirt.find("://") == std::string::npos) {
    throw Error(ErrorKind::kInvalidArgument,
                "host " + h.name + ": '" + h.libvirt +
                    "' is not a libvirt URI (qemu+ssh://root@HOST/system, "
                    "qemu+tls://HOST/system, qemu:///system)");
  }
  if (h.port_min < 1024 || h.port_max > 65535 || h.port_min > h.port_max) {
    throw Error(ErrorKind::kInvalidArgument,
                "host " + h.name + ": NBD ports " + std::to_string(h.port_min) +
                    "-" + std::to_string(h.port_max) +
                    " are not a range within 1024-65535");
  }
  if (h.max_jobs && *h.max_jobs < 1) {
    throw Error(ErrorKind::kInvalidArgument,
                "host " + h.name + ": --max-jobs must be at least 1");
  }
  if (!h.nbd_tls.empty()) {
    RequireTlsDirectory(h.nbd_tls);
  }
  if (!h.server_tls.empty() && h.server_tls[0] != '/') {
    throw Error(ErrorKind::kInvalidArgument,
                "host " + h.name + ": --server-tls '" + h.server_tls +
                    "' is not an absolute path on the host");
  }
  if ((h.Remote() || !h.nbd_address.empty()) && h.nbd_tls.empty() &&
      !h.insecure_nbd) {
    throw Error(ErrorKind::kInvalidArgument,
                "host " + h.name +
                    " is another machine: its backup data would cross the "
                    "network in clear; give --nbd-tls DIR (the CA that "
                    "signed its QEMU's certificate, and a client "
                    "certificate) or say --insecure-nbd");
  }
}

}  // namespace

std::string UriHostName(const std::string& uri) {
  const size_t scheme = uri.find("://");
  if (scheme == std::string::npos) {
    return "";
  }
  std::string authority = uri.substr(scheme + 3);
  authority = authority.substr(0, authority.find_first_of("/?"));
  if (const size_t at = authority.rfind('@'); at != std::string::npos) {
    authority = authority.substr(at + 1);
  }
  if (!authority.empty() && authority[0] == '[') {
    return authority.substr(1, authority.find(']') - 1);
  }
  return authority.substr(0, authority.find(':'));
}

bool Host::Remote() const {
  return !UriHostName(libvirt).empty();
}

std::string Host::ServerTls() const {
  return server_tls.empty() ? kDefaultServerTls : server_tls;
}

std::string Host::NbdAddress() const {
  return nbd_address.empty() ? UriHostName(libvirt) : nbd_address;
}

nlohmann::json HostJson(const Host& h) {
  return {
      {"name", h.name},
      {"libvirt", h.libvirt},
      {"remote", h.Remote()},
      {"nbd_address", h.NbdAddress().empty() ? nlohmann::json(nullptr)
                                             : nlohmann::json(h.NbdAddress())},
      {"nbd_tls",
       h.nbd_tls.empty() ? nlohmann::json(nullptr) : nlohmann::json(h.nbd_tls)},
      {"insecure_nbd", h.insecure_nbd},
      {"nbd_ports",
       std::to_string(h.port_min) + "-" + std::to_string(h.port_max)},
      {"max_jobs",
       h.max_jobs ? nlohmann::json(*h.max_jobs) : nlohmann::json(nullptr)},
      {"server_tls", h.ServerTls()},
      {"created_at", h.created_at}};
}

Hosts::Hosts(const std::string& catalog_path)
    : db_(Migrated(catalog_path), false) {}

void Hosts::Write(const Host& host, bool add) {
  Check(host);
  sqlite::Transaction tx(db_);
  const bool exists = Find(host.name).has_value();
  if (add && exists) {
    throw Error(ErrorKind::kAlreadyExists,
                "a host named '" + host.name + "' already exists");
  }
  if (!add && !exists) {
    Require(host.name);
  }
  auto s = db_.Prepare(
      add ? "INSERT INTO hosts (libvirt, nbd_address, nbd_tls, insecure_nbd, "
            "port_min, port_max, max_jobs, server_tls, name, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
          : "UPDATE hosts SET libvirt = ?, nbd_address = ?, nbd_tls = ?, "
            "insecure_nbd = ?, port_min = ?, port_max = ?, max_jobs = ?, "
            "server_tls = ? WHERE name = ?");
  s.Bind(1, host.libvirt)
      .Bind(2, host.nbd_address)
      .Bind(3, host.nbd_tls)
      .Bind(4, int64_t{host.insecure_nbd ? 1 : 0})
      .Bind(5, int64_t{host.port_min})
      .Bind(6, int64_t{host.port_max})
      .Bind(7, host.max_jobs)
      .Bind(8, host.server_tls)
      .Bind(9, host.name);
  if (add) {
    s.Bind(10, NowIso());
  }
  s.Run();
  tx.Commit();
}

void Hosts::Add(const Host& host) {
  Write(host, true);
}

void Hosts::Update(const Host& host) {
  Write(host, false);
}

void Hosts::Remove(const std::string& name) {
  sqlite::Transaction tx(db_);
  Require(name);
  const auto vms = VmsOn(name);
  if (!vms.empty()) {
    std::string names;
    for (const auto& v : vms) {
      names += (names.empty() ? "" : ", ") + v;
    }
    throw Error(ErrorKind::kBusy, "host '" + name + "' still has " +
                                      std::to_string(vms.size()) + " VM" +
                                      (vms.size() == 1 ? "" : "s") + " (" +
                                      names + "): remove them first");
  }
  db_.Prepare("DELETE FROM hosts WHERE name = ?").Bind(1, name).Run();
  tx.Commit();
}

std::vector<Host> Hosts::List() {
  auto s = db_.Prepare(std::string(kColumns) + "ORDER BY name");
  std::vector<Host> out;
  while (s.Step()) {
    out.push_back(ReadHost(s));
  }
  return out;
}

std::optional<Host> Hosts::Find(const std::string& name) {
  return FindHost(db_, name);
}

Host Hosts::Require(const std::string& name) {
  return RequireIn(db_, name);
}

Host Hosts::RequireIn(sqlite::Database& db, const std::string& name) {
  if (auto h = FindHost(db, name)) {
    return *h;
  }
  std::string names;
  auto s = db.Prepare("SELECT name FROM hosts ORDER BY name");
  while (s.Step()) {
    names += (names.empty() ? "" : ", ") + s.Text(0);
  }
  throw Error(ErrorKind::kNotFound,
              "no host named '" + name + "'" +
                  (names.empty() ? " (add one with host add)"
                                 : " (there are: " + names + ")"));
}

std::vector<std::string> Hosts::VmsOn(const std::string& name) {
  auto s = db_.Prepare(
      "SELECT name FROM vm_configs WHERE source != '' AND "
      "json_extract(source, '$.host') = ? ORDER BY name");
  s.Bind(1, name);
  std::vector<std::string> out;
  while (s.Step()) {
    out.push_back(s.Text(0));
  }
  return out;
}

}  // namespace sendense
