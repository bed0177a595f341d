#include "engine/io/nbd_uri.h"

#include "engine/error.h"

namespace sendense {

bool IsNbdUri(const std::string& text) {
  for (const char* scheme : {"nbd://", "nbds://", "nbd+unix://", "nbds+unix://",
                             "nbd+vsock://", "nbds+vsock://"}) {
    if (text.rfind(scheme, 0) == 0) {
      return true;
    }
  }
  return false;
}

void RequireNbdUri(const std::string& disk, const std::string& uri) {
  if (IsNbdUri(uri)) {
    return;
  }
  const bool path = !uri.empty() && (uri[0] == '/' || uri[0] == '.');
  throw Error(
      ErrorKind::kInvalidArgument,
      "disk '" + disk + "': '" + uri + "' is not an NBD URI" +
          (path ? "; serve the image first (`qemu-nbd -r -f qcow2 "
                  "--socket /run/" +
                      disk + ".sock " + uri +
                      "`) and give nbd+unix:///?socket=/run/" + disk + ".sock"
                : " (nbd://HOST[:PORT]/EXPORT or "
                  "nbd+unix:///EXPORT?socket=PATH)"));
}

}  // namespace sendense
