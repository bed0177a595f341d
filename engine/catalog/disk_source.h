#pragma once

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

// A VM that libvirt runs: Sendense finds its disks and starts a pull-mode
// backup job for each backup (docs/libvirt.md).
struct LibvirtSource {
  std::string uri = "qemu:///system";
  std::string domain;
  std::vector<std::string> disks;    // only these targets ("vda"), or all
  std::vector<std::string> exclude;  // all but these
  bool operator==(const LibvirtSource&) const = default;
};

}  // namespace sendense
