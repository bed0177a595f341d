#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/catalog/sqlite.h"

namespace sendense {

// A hypervisor whose libvirt VMs the appliance backs up (host add), and
// how the data of its backup jobs reaches the appliance: on the same
// machine through a private unix socket; from another machine over TCP,
// with TLS (the client certificates in `nbd_tls`, which the host's QEMU
// trusts) unless the admin allowed plain TCP (`insecure_nbd`).
struct Host {
  std::string name;
  std::string libvirt;      // qemu:///system, qemu+ssh://root@kvm1/system...
  std::string nbd_address;  // where its NBD servers are reached; "" = the
                            // URI's host name
  std::string nbd_tls;      // ca-cert.pem, client-cert.pem, client-key.pem
  bool insecure_nbd = false;
  int port_min = 10809;  // the ports its backup jobs may listen on
  int port_max = 10839;
  std::optional<int64_t> max_jobs;  // backups at once on it; none: no limit
  // On the host: QEMU's server certificates (qemu.conf's
  // backup_tls_x509_cert_dir), which the qemu-nbd serving a shut-off
  // domain's disks uses too; "" = kDefaultServerTls.
  std::string server_tls;
  std::string created_at;

  // Whether the URI names another machine (its QEMU's NBD servers are
  // then reached over TCP).
  bool Remote() const;
  // nbd_address, else the URI's host name; "" for a local host.
  std::string NbdAddress() const;
  std::string ServerTls() const;
};

// Where libvirt's QEMU keeps its TLS certificates unless qemu.conf says
// otherwise (default_tls_x509_cert_dir).
inline constexpr const char* kDefaultServerTls = "/etc/pki/qemu";

// The machine a libvirt URI names ("kvm1" of qemu+ssh://root@kvm1:22/system),
// "" for a local one (qemu:///system).
std::string UriHostName(const std::string& uri);

nlohmann::json HostJson(const Host& host);

// The host `name` as `db` (a catalog) has it.
std::optional<Host> FindHost(sqlite::Database& db, const std::string& name);

// Hosts in the catalog. One connection; one per thread. Errors are one
// sentence: kInvalidArgument for a bad name, URI, port range or a remote
// host without TLS certificates (unless insecure_nbd), kNotFound,
// kAlreadyExists, kBusy for a host that still has VMs.
class Hosts {
 public:
  explicit Hosts(const std::string& catalog_path);
  void Add(const Host& host);
  void Update(const Host& host);
  void Remove(const std::string& name);
  std::vector<Host> List();
  std::optional<Host> Find(const std::string& name);
  // Error kNotFound ("no host named 'x'", with the hosts there are).
  Host Require(const std::string& name);
  static Host RequireIn(sqlite::Database& db, const std::string& name);
  // The VMs configured on `name`, in name order.
  std::vector<std::string> VmsOn(const std::string& name);

 private:
  void Write(const Host& host, bool add);
  sqlite::Database db_;
};

}  // namespace sendense
