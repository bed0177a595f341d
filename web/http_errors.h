#pragma once

#include "engine/error.h"

namespace sendense::web {

// The one place where engine errors become HTTP statuses.
inline unsigned ToHttpStatus(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument:
      return 400;
    case ErrorKind::kNotFound:
      return 404;
    case ErrorKind::kAlreadyExists:
      return 409;
    case ErrorKind::kUnsupported:
      return 415;
    case ErrorKind::kNoSpace:
      return 507;
    case ErrorKind::kTimeout:
      return 504;
    case ErrorKind::kCancelled:
    case ErrorKind::kBusy:
      return 409;
    case ErrorKind::kCorrupt:
    case ErrorKind::kIo:
      return 500;
  }
  return 500;
}

}  // namespace sendense::web
