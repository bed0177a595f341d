#pragma once

#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

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
  kDenied,           // a credential is wrong, or its holder may not do this
};

// What a person can do about an error, named by the engine in its own
// terms; each front end says it in its words (the CLI names its commands
// and flags, the API its routes and fields). The engine's message says
// only what is wrong.
enum class Remedy {
  kNone,
  kGiveRetentionPolicy,  // subject: the VM, "" for every VM
  kGiveExportTls,        // an export beyond loopback needs certificates
  kInitRepository,       // subject: the repository's path
};

// The exception every engine function throws. what() is one sentence meant
// for a person; sys_errno() keeps the operating system's errno when there
// was one (0 otherwise); remedy() and subject() what can be done about it.
class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message, int sys_errno = 0)
      : std::runtime_error(message), kind_(kind), sys_errno_(sys_errno) {}
  Error(ErrorKind kind,
        const std::string& message,
        Remedy remedy,
        std::string subject = "")
      : std::runtime_error(message),
        kind_(kind),
        sys_errno_(0),
        remedy_(remedy),
        subject_(std::move(subject)) {}

  ErrorKind kind() const { return kind_; }
  int sys_errno() const { return sys_errno_; }
  Remedy remedy() const { return remedy_; }
  const std::string& subject() const { return subject_; }

 private:
  ErrorKind kind_;
  int sys_errno_;
  Remedy remedy_ = Remedy::kNone;
  std::string subject_;
};

// Throws an Error for the current errno: kIo, or kNoSpace for ENOSPC/EDQUOT.
[[noreturn]] void ThrowSystemError(const std::string& what);

// Throws an Error for a failed std::filesystem call (`what` names the
// path): kNotFound for ENOENT, kNoSpace for ENOSPC/EDQUOT, else kIo; the
// errno is kept. Does nothing when `ec` holds no error.
void ThrowIfFailed(const std::error_code& ec, const std::string& what);

}  // namespace sendense
