#include "engine/error.h"

#include <cerrno>
#include <cstring>

namespace sendense {

void ThrowSystemError(const std::string& what) {
  const int err = errno;
  const ErrorKind kind =
      (err == ENOSPC || err == EDQUOT) ? ErrorKind::kNoSpace : ErrorKind::kIo;
  throw Error(kind, what + ": " + std::strerror(err), err);
}

}  // namespace sendense
