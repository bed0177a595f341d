#pragma once

#include <stdexcept>
#include <string>
#include <system_error>

namespace sendense {

// What went wrong, in the terms the boundaries need: the FUSE glue maps a
// kind to an errno and the HTTP glue to a status, each in one place.
enum class ErrorKind {
  kInvalidArgument,  // the caller asked for something that makes no sense
  kNotFound,         // a named thing does not exist
  kAlreadyExists,    // a thing to be created is already there
  kUnsupported,      // valid input that this version does not handle
  kCorrupt,          // stored or received data breaks its format's rules
  kIo,               // the operating system reported a failure
  kNoSpace,          // the destination is full
  kTimeout,          // a peer did not answer in time
  kCancelled,        // the operation was asked to stop
  kBusy,             // the thing is in use by someone else: try later
};

// The exception every engine function throws. what() is one sentence meant
// for a person; sys_errno() keeps the operating system's errno when there
// was one (0 otherwise).
class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message, int sys_errno = 0)
      : std::runtime_error(message), kind_(kind), sys_errno_(sys_errno) {}

  ErrorKind kind() const { return kind_; }
  int sys_errno() const { return sys_errno_; }

 private:
  ErrorKind kind_;
  int sys_errno_;
};

// Throws an Error for the current errno: kIo, or kNoSpace for ENOSPC/EDQUOT.
[[noreturn]] void ThrowSystemError(const std::string& what);

// Throws an Error for a failed std::filesystem call (`what` names the
// path): kNotFound for ENOENT, kNoSpace for ENOSPC/EDQUOT, else kIo; the
// errno is kept. Does nothing when `ec` holds no error.
void ThrowIfFailed(const std::error_code& ec, const std::string& what);

}  // namespace sendense
