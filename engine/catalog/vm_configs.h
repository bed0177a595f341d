#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "engine/catalog/disk_source.h"
#include "engine/catalog/retention_policy.h"
#include "engine/catalog/schedule.h"
#include "engine/catalog/sqlite.h"

namespace sendense {

// A VM the appliance backs up: its disks' NBD URIs and its dirty bitmap,
// or the libvirt domain it is; its schedule and its retention policy.
struct VmConfig {
  std::string name;
  std::vector<DiskSource> disks;  // none with `libvirt`
  std::optional<LibvirtSource> libvirt;
  std::string bitmap;
  Schedule schedule;
  retention::Policy retention;  // applied by `serve` after each backup
  std::string copy_to;          // a repository `serve` copies new backups to
  // Days its points stay immutable (overrides the repository's).
  std::optional<double> immutable_days;
};

// VM configurations in the catalog. One connection; one per thread.
class VmConfigs {
 public:
  explicit VmConfigs(const std::string& catalog_path);
  // Adds `vm`; Error kAlreadyExists when the name is taken,
  // kInvalidArgument for a bad name, disk or schedule, kNotFound for a
  // tenant ("web1@acme") that does not exist, kNoSpace when the tenant has
  // as many VMs as it may.
  void Add(const VmConfig& vm);
  // Replaces the configuration of the VM named `vm.name`; Error kNotFound
  // when there is none, kInvalidArgument as Add.
  void Update(const VmConfig& vm);
  // Error kNotFound when there is no such VM.
  void Remove(const std::string& name);
  std::vector<VmConfig> List();
  std::vector<std::string> Names();
  std::optional<VmConfig> Find(const std::string& name);

 private:
  void RequireTenantRoomForVm(const std::string& vm);
  // Error kNotFound when `vm` names a host that does not exist.
  void RequireHostOf(const VmConfig& vm);
  sqlite::Database db_;
};

}  // namespace sendense
