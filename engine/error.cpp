#include "engine/error.h"

#include <cerrno>
#include <cstring>

namespace sendense {

namespace {

ErrorKind KindOf(int err) {
  switch (err) {
    case ENOSPC:
    case EDQUOT:
      return ErrorKind::kNoSpace;
    case ENOENT:
      return ErrorKind::kNotFound;
    default:
      return ErrorKind::kIo;
  }
}

}  // namespace

void ThrowSystemError(const std::string& what) {
  const int err = errno;
  throw Error(err == ENOENT ? ErrorKind::kIo : KindOf(err),
              what + ": " + std::strerror(err), err);
}

void ThrowIfFailed(const std::error_code& ec, const std::string& what) {
  if (ec) {
    throw Error(KindOf(ec.value()), what + ": " + ec.message(), ec.value());
  }
}

}  // namespace sendense
