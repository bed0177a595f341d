#pragma once

#include <string>
#include <vector>

#include "engine/catalog/disk_source.h"

namespace sendense::libvirt {

// A disk of a domain as its XML describes it. The XML comes from libvirt,
// which the daemon trusts as it trusts its own configuration.
struct DomainDisk {
  std::string target;  // "vda"
  std::string device;  // "disk", "cdrom", "floppy", "lun"
  std::string type;    // "file", "block", "network", "volume"
  std::string source;  // the file or device ("" for network)
  std::string format;  // "qcow2", "raw", ...
  bool readonly = false;
  bool shareable = false;

  // Why this disk cannot be backed up ("" when it can).
  std::string Unsupported() const;
  // Whether its changes can be tracked (a QCOW2 image keeps the bitmaps).
  bool Incremental() const {
    return Unsupported().empty() && format == "qcow2";
  }
};

// The disks of a domain's XML, in document order. Error kCorrupt when the
// XML cannot be read.
std::vector<DomainDisk> ParseDomainDisks(const std::string& xml);

// The disks `source` selects among `all`: every disk that can be backed
// up, only `source.disks` or all but `source.exclude`. Error
// kInvalidArgument naming a selected disk that does not exist or cannot be
// backed up (with why); `skipped` gets the others that cannot, with why.
std::vector<DomainDisk> SelectDisks(const std::vector<DomainDisk>& all,
                                    const LibvirtSource& source,
                                    std::vector<std::string>* skipped);

}  // namespace sendense::libvirt
