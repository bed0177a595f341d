#include "engine/libvirt/connection.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <cstdlib>

#include "engine/error.h"
#include "engine/libvirt/libvirt_error.h"

namespace sendense::libvirt {

void Domain::Close::operator()(virDomain* d) const {
  virDomainFree(d);
}

void Connection::Close::operator()(virConnect* c) const {
  virConnectClose(c);
}

Connection::Connection(const std::string& uri) : uri_(uri) {
  KeepErrorsQuiet();
  c_.reset(virConnectOpen(uri.c_str()));
  if (!c_) {
    Fail("cannot connect to libvirt at " + uri);
  }
}

void Connection::Define(const std::string& xml) const {
  virDomain* d = virDomainDefineXML(c_.get(), xml.c_str());
  if (d == nullptr) {
    Fail("cannot define the domain");
  }
  virDomainFree(d);
}

namespace {

std::string VersionText(unsigned long v) {
  return std::to_string(v / 1000000) + "." + std::to_string(v / 1000 % 1000) +
         "." + std::to_string(v % 1000);
}

}  // namespace

std::string Connection::LibvirtVersion() const {
  unsigned long v = 0;
  if (virConnectGetLibVersion(c_.get(), &v) != 0) {
    Fail("cannot ask libvirt at " + uri_ + " its version");
  }
  return VersionText(v);
}

std::string Connection::HypervisorVersion() const {
  unsigned long v = 0;
  if (virConnectGetVersion(c_.get(), &v) != 0) {
    Fail("cannot ask libvirt at " + uri_ + " its hypervisor's version");
  }
  return VersionText(v);
}

Domain Connection::Lookup(const std::string& name) const {
  virDomain* d = virDomainLookupByName(c_.get(), name.c_str());
  if (d == nullptr) {
    const virErrorPtr e = virGetLastError();
    if (e != nullptr && e->code == VIR_ERR_NO_DOMAIN) {
      throw Error(ErrorKind::kNotFound,
                  "libvirt at " + uri_ + " has no domain '" + name + "'");
    }
    Fail("cannot find domain '" + name + "'");
  }
  return Domain(d);
}

std::vector<Domain> Connection::Domains() const {
  virDomainPtr* list = nullptr;
  const int n = virConnectListAllDomains(c_.get(), &list, 0);
  if (n < 0) {
    Fail("cannot list the domains of " + uri_);
  }
  std::vector<Domain> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(Domain(list[i]));
  }
  std::free(list);
  return out;
}

std::string Domain::name() const {
  const char* n = virDomainGetName(d_.get());
  return n != nullptr ? n : "";
}

bool Domain::active() const {
  const int a = virDomainIsActive(d_.get());
  if (a < 0) {
    const std::string why = LastError();
    Fail("cannot ask whether domain '" + name() + "' runs", why);
  }
  return a == 1;
}

std::string Domain::Xml(bool inactive) const {
  char* xml =
      virDomainGetXMLDesc(d_.get(), inactive ? VIR_DOMAIN_XML_INACTIVE : 0);
  if (xml == nullptr) {
    const std::string why = LastError();
    Fail("cannot read the XML of domain '" + name() + "'", why);
  }
  std::string out(xml);
  std::free(xml);
  return out;
}

std::vector<std::string> Domain::Checkpoints() const {
  virDomainCheckpointPtr* list = nullptr;
  const int n = virDomainListAllCheckpoints(d_.get(), &list, 0);
  if (n < 0) {
    const std::string why = LastError();
    Fail("cannot list the checkpoints of domain '" + name() + "'", why);
  }
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) {
    names.push_back(virDomainCheckpointGetName(list[i]));
    virDomainCheckpointFree(list[i]);
  }
  std::free(list);
  return names;
}

std::string Domain::DeleteCheckpoint(const std::string& checkpoint) const {
  virDomainCheckpointPtr c =
      virDomainCheckpointLookupByName(d_.get(), checkpoint.c_str(), 0);
  if (c == nullptr) {
    return "";  // gone already
  }
  std::string why;
  if (virDomainCheckpointDelete(c, 0) < 0) {
    why = LastError();
    if (virDomainCheckpointDelete(
            c, VIR_DOMAIN_CHECKPOINT_DELETE_METADATA_ONLY) < 0) {
      virDomainCheckpointFree(c);
      Fail("cannot delete checkpoint '" + checkpoint + "' of domain '" +
               name() + "'",
           why);
    }
  }
  virDomainCheckpointFree(c);
  return why;
}

void Domain::BeginBackup(const std::string& backup_xml,
                         const std::string& checkpoint_xml) const {
  if (virDomainBackupBegin(d_.get(), backup_xml.c_str(), checkpoint_xml.c_str(),
                           0) < 0) {
    const std::string why = LastError();
    Fail("libvirt did not start a backup job of domain '" + name() + "'", why);
  }
}

std::optional<std::string> Domain::BackupXml() const {
  char* xml = virDomainBackupGetXMLDesc(d_.get(), 0);
  if (xml == nullptr) {
    return std::nullopt;  // no backup job
  }
  std::string out(xml);
  std::free(xml);
  return out;
}

bool Domain::AbortJob() const {
  return virDomainAbortJob(d_.get()) == 0;
}

bool Domain::Freeze() const {
  return virDomainFSFreeze(d_.get(), nullptr, 0, 0) >= 0;
}

void Domain::Thaw() const {
  virDomainFSThaw(d_.get(), nullptr, 0, 0);
}

}  // namespace sendense::libvirt
