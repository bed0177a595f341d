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
    case ErrorKind::kDenied:
      return 403;
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

// An engine error's sentence with what to do about it in the API's words.
inline std::string ApiMessage(const Error& e) {
  const std::string what = e.what();
  switch (e.remedy()) {
    case Remedy::kNone:
    case Remedy::kInitRepository:
      return what;
    case Remedy::kGiveRetentionPolicy:
      return what + ": give one as \"policy\" or store one (PUT " +
             "/api/v1/vms/" + (e.subject().empty() ? "NAME" : e.subject()) +
             "/retention)";
    case Remedy::kGiveExportTls:
      return what + ": start serve with --export-tls DIR to allow it";
  }
  return what;
}

}  // namespace sendense::web
