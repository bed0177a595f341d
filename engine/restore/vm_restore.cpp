#include "engine/restore/vm_restore.h"

#include <filesystem>
#include <map>
#include <optional>

#include "engine/catalog/hosts.h"
#include "engine/catalog/vm_configs.h"
#include "engine/error.h"
#include "engine/io/scratch_dir.h"
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
  const BackupRecord backup =
      ChooseBackup(*repo.OpenCatalog(), request.vm, request.point);
  VmRestoreReport report;
  report.uri = "qemu:///system";
  if (const auto config = VmConfigs(repo.CatalogPath()).Find(request.vm);
      config && config->libvirt) {
    report.uri = config->libvirt->uri;
  }
  const bool remote = !UriHostName(report.uri).empty();
  if (remote && fs::path(request.directory).is_relative()) {
    throw Error(ErrorKind::kInvalidArgument,
                "--define restores the disks into a folder of the host of " +
                    report.uri + ": --to takes its absolute path, not " +
                    request.directory);
  }
  if (!remote && !fs::is_directory(request.directory)) {
    throw Error(ErrorKind::kInvalidArgument,
                "--define restores the disks into a folder given with --to: " +
                    request.directory + " is not one");
  }
  if (backup.domain_xml.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                "backup '" + backup.name + "' of VM '" + request.vm +
                    "' carries no domain XML (not a libvirt VM): --define "
                    "needs one; restore its disks with --disk");
  }
  report.vm = request.vm;
  report.backup = backup.name;
  report.domain = request.name;
  if (libvirt::DomainExists(report.uri, request.name)) {
    throw Error(ErrorKind::kAlreadyExists,
                "libvirt at " + report.uri + " already has a domain '" +
                    request.name + "': pick another name for --define");
  }
  // Another machine's disks are restored here first, then uploaded to
  // the folder on that machine.
  std::optional<ScratchDir> staging;
  if (remote) {
    staging.emplace("restore", "the restored disks");
  }
  const libvirt::Connection host(report.uri);
  std::map<std::string, std::string> files;
  for (const auto& p : backup.points) {
    const std::string base = request.name + "-" + p.disk + ".qcow2";
    const std::string file =
        (fs::absolute(request.directory) / base).lexically_normal();
    RestoreRequest one;
    one.vm = request.vm;
    one.point = backup.name;
    one.disk = p.disk;
    one.target = remote ? staging->path() + "/" + base : file;
    one.force = request.force;
    report.disks.push_back(Restore(repo, one, progress));
    if (remote) {
      host.Upload(one.target, file, request.force);
      report.disks.back().target = file;
    }
    files[p.disk] = file;
  }
  host.Define(
      libvirt::RestoredDomainXml(backup.domain_xml, request.name, files));
  return report;
}

}  // namespace sendense::restore
