#pragma once

#include <map>
#include <string>

namespace sendense::libvirt {

// The domain XML recorded with a point, made into a new VM whose disks are
// restored files: `name` instead of the old one, no <uuid> (libvirt makes
// one), each disk of `disk_files` (target -> restored QCOW2) a file disk
// with that source and format qcow2 (no backing chain), other hard disks
// dropped (they are the original VM's images: two VMs must never write one
// image), CD-ROMs and floppies kept, and interfaces without their MAC
// address (libvirt gives new ones: no clash with the original VM). Error
// kCorrupt when `xml` is not a domain.
std::string RestoredDomainXml(
    const std::string& xml,
    const std::string& name,
    const std::map<std::string, std::string>& disk_files);

// Whether libvirt at `uri` has a domain `name`.
bool DomainExists(const std::string& uri, const std::string& name);

}  // namespace sendense::libvirt
