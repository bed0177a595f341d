#include "engine/io/nbd_uri.h"

#include <filesystem>

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

bool IsTlsNbdUri(const std::string& uri) {
  return uri.rfind("nbds:", 0) == 0 || uri.rfind("nbds+", 0) == 0;
}

void RequireNbdTls(const std::string& uri,
                   const std::string& tls_certificates) {
  if (tls_certificates.empty()) {
    return;
  }
  if (!IsTlsNbdUri(uri)) {
    throw Error(ErrorKind::kInvalidArgument,
                "TLS certificates are given for " + uri +
                    ", which is not an nbds:// (TLS) URI");
  }
  RequireTlsDirectory(tls_certificates);
}

void RequireTlsDirectory(const std::string& dir) {
  for (const char* file :
       {"ca-cert.pem", "client-cert.pem", "client-key.pem"}) {
    if (!std::filesystem::exists(std::filesystem::path(dir) / file)) {
      throw Error(ErrorKind::kInvalidArgument,
                  "the NBD TLS directory " + dir + " has no " + file +
                      " (it needs ca-cert.pem, client-cert.pem and "
                      "client-key.pem)");
    }
  }
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
