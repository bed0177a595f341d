#include "engine/jobs/backup_request.h"

#include "engine/libvirt/libvirt_source.h"

namespace sendense {

BackupRequest BackupRequestFor(const VmConfig& vm) {
  BackupRequest request;
  request.vm = vm.name;
  request.disks = vm.disks;
  request.bitmap = vm.bitmap;
  if (vm.libvirt) {
    request.open_source = libvirt::Opener(vm.name, *vm.libvirt);
    request.host = vm.libvirt->host;
    request.host_max_jobs = vm.libvirt->host_max_jobs;
  }
  return request;
}

}  // namespace sendense
