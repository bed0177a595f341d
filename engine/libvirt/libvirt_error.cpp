#include "engine/libvirt/libvirt_error.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "engine/error.h"
#include "engine/libvirt/connection.h"

namespace sendense::libvirt {
namespace {

void Quiet(void*, virErrorPtr) {}

}  // namespace

std::string LastError() {
  const char* m =
      virGetLastError() != nullptr ? virGetLastErrorMessage() : nullptr;
  return m != nullptr ? m : kNoReason;
}

void Fail(const std::string& what, const std::string& why) {
  throw Error(ErrorKind::kIo, what + ": " + why);
}

void Fail(const std::string& what) {
  Fail(what, LastError());
}

void KeepErrorsQuiet() {
  virSetErrorFunc(nullptr, Quiet);
}

}  // namespace sendense::libvirt
