#pragma once

#include <cerrno>
#include <new>

#include "engine/error.h"

namespace sendense::fs {

// The one place where engine errors become errno values for the kernel.
inline int ToErrno(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument:
      return EINVAL;
    case ErrorKind::kNotFound:
      return ENOENT;
    case ErrorKind::kAlreadyExists:
      return EEXIST;
    case ErrorKind::kUnsupported:
      return EOPNOTSUPP;
    case ErrorKind::kNoSpace:
      return ENOSPC;
    case ErrorKind::kTimeout:
      return ETIMEDOUT;
    case ErrorKind::kCancelled:
      return EINTR;
    case ErrorKind::kBusy:
      return EBUSY;
    case ErrorKind::kDenied:
      return EACCES;
    case ErrorKind::kCorrupt:
    case ErrorKind::kIo:
      return EIO;
  }
  return EIO;
}

// An error's errno: the one the operating system (or the namespace)
// reported when there is one, else its kind's.
inline int ToErrno(const Error& e) {
  return e.sys_errno() != 0 ? e.sys_errno() : ToErrno(e.kind());
}

}  // namespace sendense::fs
