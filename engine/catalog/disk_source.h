#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sendense {

// One disk of a VM and where to read it.
struct DiskSource {
  static DiskSource At(std::string name, std::string uri) {
    DiskSource d;
    d.name = std::move(name);
    d.uri = std::move(uri);
    return d;
  }

  std::string name;  // e.g. "sda"
  std::string uri;   // any libnbd URI
  // Set by a source that knows better than the backup's own bitmap (a
  // libvirt backup job): the dirty bitmap this disk exports, or why the
  // disk must be copied whole.
  std::string bitmap;
  std::string full_reason;
  // For an nbds:// URI: the client's TLS certificates (NbdEndpoint).
  std::string tls_certificates;
};

// How the NBD servers of a libvirt VM's backup jobs are reached: through
// a private unix socket when QEMU runs on this machine, else over TCP at
// `address` on a port of [port_min, port_max], with TLS (the client
// certificates in `tls_dir`) unless `insecure`; the host's own server
// certificates are in `server_tls_dir` there.
struct NbdTransport {
  std::string address;  // "": a unix socket
  std::string tls_dir;
  bool insecure = false;
  int port_min = 10809;
  int port_max = 10839;
  std::string server_tls_dir;
  bool operator==(const NbdTransport&) const = default;
};

// A VM that libvirt runs: Sendense finds its disks and starts a pull-mode
// backup job for each backup (docs/libvirt.md).
struct LibvirtSource {
  std::string uri = "qemu:///system";
  std::string domain;
  std::vector<std::string> disks;    // only these targets ("vda"), or all
  std::vector<std::string> exclude;  // all but these
  // A registered host (host add): `uri` and `nbd` are the host's, filled
  // in when the VM is read.
  std::string host;
  NbdTransport nbd;
  std::optional<int64_t> host_max_jobs;  // the host's, filled in with `nbd`
  bool operator==(const LibvirtSource&) const = default;
};

}  // namespace sendense
