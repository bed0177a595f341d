#include "engine/repo/point_lease.h"

#include <sys/file.h>

#include <cerrno>
#include <thread>

#include "engine/error.h"

namespace sendense {

PointLease::PointLease(const std::string& path,
                       Mode mode,
                       std::chrono::milliseconds wait)
    : file_(File::OpenReadOnly(path)) {
  const int op = (mode == Mode::kShared ? LOCK_SH : LOCK_EX) | LOCK_NB;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (::flock(file_.fd(), op) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      ThrowSystemError("cannot lock " + path);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      throw Error(ErrorKind::kBusy,
                  mode == Mode::kShared
                      ? path + " is being pruned"
                      : path +
                            " is open for reading (the tree, a download "
                            "or a restore)",
                  EBUSY);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace sendense
