#include "engine/libvirt/domain_define.h"

#include <pugixml.hpp>
#include <sstream>
#include <vector>

#include "engine/error.h"
#include "engine/libvirt/connection.h"

namespace sendense::libvirt {

std::string RestoredDomainXml(
    const std::string& xml,
    const std::string& name,
    const std::map<std::string, std::string>& disk_files) {
  pugi::xml_document doc;
  if (!doc.load_string(xml.c_str()) || !doc.child("domain")) {
    throw Error(ErrorKind::kCorrupt,
                "the recorded domain XML cannot be read as a domain");
  }
  pugi::xml_node domain = doc.child("domain");
  domain.remove_child("uuid");
  pugi::xml_node name_node = domain.child("name");
  if (!name_node) {
    name_node = domain.prepend_child("name");
  }
  name_node.text().set(name.c_str());
  pugi::xml_node devices = domain.child("devices");
  std::vector<pugi::xml_node> dropped;
  for (pugi::xml_node disk : devices.children("disk")) {
    const std::string device = disk.attribute("device").as_string("disk");
    if (device != "disk") {
      continue;  // cdrom, floppy: kept as they were
    }
    const auto file =
        disk_files.find(disk.child("target").attribute("dev").as_string());
    if (file == disk_files.end()) {
      dropped.push_back(disk);
      continue;
    }
    disk.attribute("type") ? disk.attribute("type").set_value("file")
                           : disk.append_attribute("type").set_value("file");
    disk.remove_child("source");
    disk.remove_child("backingStore");
    pugi::xml_node source =
        disk.insert_child_after("source", disk.child("driver"));
    source.append_attribute("file").set_value(file->second.c_str());
    pugi::xml_node driver = disk.child("driver");
    if (!driver) {
      driver = disk.prepend_child("driver");
      driver.append_attribute("name").set_value("qemu");
    }
    driver.attribute("type")
        ? driver.attribute("type").set_value("qcow2")
        : driver.append_attribute("type").set_value("qcow2");
  }
  for (auto& d : dropped) {
    devices.remove_child(d);
  }
  for (pugi::xml_node nic : devices.children("interface")) {
    nic.remove_child("mac");
  }
  std::ostringstream out;
  doc.save(out, "  ");
  return out.str();
}

bool DomainExists(const std::string& uri, const std::string& name) {
  try {
    Connection(uri).Lookup(name);
    return true;
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kNotFound) {
      return false;
    }
    throw;
  }
}

}  // namespace sendense::libvirt
