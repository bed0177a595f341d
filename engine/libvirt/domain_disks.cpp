#include "engine/libvirt/domain_disks.h"

#include <pugixml.hpp>

#include <algorithm>

#include "engine/error.h"

namespace sendense::libvirt {

std::string DomainDisk::Unsupported() const {
  if (device != "disk") {
    return "a " + device + ", not a disk";
  }
  if (readonly) {
    return "read-only";
  }
  if (shareable) {
    return "shareable between domains";
  }
  if (type != "file" && type != "block") {
    return "a " + type + " disk (only file and block disks can be exported)";
  }
  return "";
}

std::vector<DomainDisk> ParseDomainDisks(const std::string& xml) {
  pugi::xml_document doc;
  if (!doc.load_string(xml.c_str())) {
    throw Error(ErrorKind::kCorrupt,
                "libvirt gave a domain XML that cannot "
                "be read");
  }
  std::vector<DomainDisk> disks;
  for (const auto& node : doc.select_nodes("/domain/devices/disk")) {
    const pugi::xml_node n = node.node();
    DomainDisk d;
    d.target = n.child("target").attribute("dev").as_string();
    d.device = n.attribute("device").as_string("disk");
    d.type = n.attribute("type").as_string("file");
    const pugi::xml_node src = n.child("source");
    d.source =
        src.attribute("file").as_string(src.attribute("dev").as_string());
    d.format = n.child("driver").attribute("type").as_string("raw");
    d.readonly = static_cast<bool>(n.child("readonly"));
    d.shareable = static_cast<bool>(n.child("shareable"));
    if (!d.target.empty()) {
      disks.push_back(d);
    }
  }
  return disks;
}

std::vector<DomainDisk> SelectDisks(const std::vector<DomainDisk>& all,
                                    const LibvirtSource& source,
                                    std::vector<std::string>* skipped) {
  const auto listed = [](const std::vector<std::string>& v,
                         const std::string& t) {
    return std::find(v.begin(), v.end(), t) != v.end();
  };
  for (const auto& wanted : source.disks) {
    if (std::none_of(all.begin(), all.end(),
                     [&](const auto& d) { return d.target == wanted; })) {
      throw Error(
          ErrorKind::kInvalidArgument,
          "domain '" + source.domain + "' has no disk '" + wanted + "'");
    }
  }
  std::vector<DomainDisk> chosen;
  for (const auto& d : all) {
    const bool asked = listed(source.disks, d.target);
    if ((!source.disks.empty() && !asked) || listed(source.exclude, d.target)) {
      continue;
    }
    if (const std::string why = d.Unsupported(); !why.empty()) {
      if (asked) {
        throw Error(ErrorKind::kInvalidArgument,
                    "disk '" + d.target + "' cannot be backed up: " + why);
      }
      if (skipped != nullptr) {
        skipped->push_back(d.target + ": " + why);
      }
      continue;
    }
    chosen.push_back(d);
  }
  if (chosen.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                "domain '" + source.domain + "' has no disk to back up");
  }
  return chosen;
}

}  // namespace sendense::libvirt
