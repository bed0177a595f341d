#include "engine/io/capacity.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include "engine/error.h"

namespace sendense {
namespace {

constexpr uint64_t kFullMargin = 1 << 20;

}  // namespace

uint64_t FreeBytes(const std::string& path) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0) {
    return 0;
  }
  const uint64_t blocks = ::geteuid() == 0 ? st.f_bfree : st.f_bavail;
  return blocks * st.f_frsize;
}

bool FilesystemFull(const std::string& path) {
  struct statvfs st {};
  return ::statvfs(path.c_str(), &st) == 0 && FreeBytes(path) < kFullMargin;
}

void ThrowFilesystemFull(const std::string& path, const std::string& detail) {
  throw Error(ErrorKind::kNoSpace,
              "the repository's filesystem is full (" +
                  std::to_string(FreeBytes(path)) + " bytes free)" + detail,
              ENOSPC);
}

}  // namespace sendense
