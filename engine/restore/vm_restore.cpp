#include "engine/restore/vm_restore.h"

#include <filesystem>
#include <map>

#include "engine/catalog/vm_configs.h"
#include "engine/error.h"
#include "engine/libvirt/connection.h"
#include "engine/libvirt/domain_define.h"
#include "engine/restore/point_choice.h"

namespace sendense::restore {

nlohmann::json VmRestoreReportJson(const VmRestoreReport& r) {
  nlohmann::json disks = nlohmann::json::array();
  for (const auto& d : r.disks) {
    disks.push_back(RestoreReportJson(d));
  }
  return {{"vm", r.vm},
          {"backup", r.backup},
          {"domain", r.domain},
          {"uri", r.uri},
          {"disks", disks}};
}

VmRestoreReport RestoreVm(const Repository& repo,
                          const VmRestoreRequest& request,
                          JobProgress& progress) {
  namespace fs = std::filesystem;
  if (request.name.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                "--define needs the new domain's name");
  }
  if (!fs::is_directory(request.directory)) {
    throw Error(ErrorKind::kInvalidArgument,
                "--define restores the disks into a folder given with --to: " +
                    request.directory + " is not one");
  }
  const BackupRecord backup =
      ChooseBackup(*repo.OpenCatalog(), request.vm, request.point);
  if (backup.domain_xml.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                "backup '" + backup.name + "' of VM '" + request.vm +
                    "' carries no domain XML (not a libvirt VM): --define "
                    "needs one; restore its disks with --disk");
  }
  VmRestoreReport report;
  report.vm = request.vm;
  report.backup = backup.name;
  report.domain = request.name;
  report.uri = "qemu:///system";
  if (const auto config = VmConfigs(repo.CatalogPath()).Find(request.vm);
      config && config->libvirt) {
    report.uri = config->libvirt->uri;
  }
  if (libvirt::DomainExists(report.uri, request.name)) {
    throw Error(ErrorKind::kAlreadyExists,
                "libvirt at " + report.uri + " already has a domain '" +
                    request.name + "': pick another name for --define");
  }
  std::map<std::string, std::string> files;
  for (const auto& p : backup.points) {
    const std::string file = (fs::absolute(request.directory) /
                              (request.name + "-" + p.disk + ".qcow2"))
                                 .lexically_normal();
    RestoreRequest one;
    one.vm = request.vm;
    one.point = backup.name;
    one.disk = p.disk;
    one.target = file;
    one.force = request.force;
    report.disks.push_back(Restore(repo, one, progress));
    files[p.disk] = file;
  }
  libvirt::Connection(report.uri)
      .Define(
          libvirt::RestoredDomainXml(backup.domain_xml, request.name, files));
  return report;
}

}  // namespace sendense::restore
