#include "engine/io/network_fs.h"

#include <sys/vfs.h>

namespace sendense {

std::string NetworkFilesystemOfType(long f_type) {
  switch (static_cast<unsigned long>(f_type) & 0xffffffffUL) {
    case 0x6969UL:  // NFS_SUPER_MAGIC
      return "nfs";
    case 0x517BUL:      // SMB_SUPER_MAGIC
    case 0xFF534D42UL:  // CIFS_MAGIC_NUMBER
    case 0xFE534D42UL:  // SMB2_MAGIC_NUMBER
      return "smb";
    case 0x00C36400UL:  // CEPH_SUPER_MAGIC
      return "ceph";
    case 0x01021997UL:  // V9FS_MAGIC
      return "9p";
    case 0x5346414FUL:  // AFS_FS_MAGIC
      return "afs";
    case 0x65735546UL:  // FUSE_SUPER_MAGIC: sshfs, glusterfs, s3fs...
      return "fuse";
    default:
      return "";
  }
}

std::string NetworkFilesystem(const std::string& path) {
  struct statfs st {};
  if (::statfs(path.c_str(), &st) != 0) {
    return "";
  }
  return NetworkFilesystemOfType(static_cast<long>(st.f_type));
}

}  // namespace sendense
