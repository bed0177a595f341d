#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/guest/appliance.h"

namespace sendense::guest {

// Appliances for reading guest files, one per backup, started on first use
// and shared by every reader of that backup. At most `cap` run at once (a
// new one waits for, or replaces, an idle one); one unused for `idle`
// closes by itself. Thread-safe. Its reaper thread starts with the first
// Acquire, so a pool may be made before the process forks (a daemon).
class AppliancePool {
 public:
  AppliancePool(size_t cap, std::chrono::seconds idle);
  ~AppliancePool();

  // The appliance of backup `key`, its filesystems `fss` mounted. Callers
  // of the same key wait for the same launch. Throws Error kIo.
  std::shared_ptr<Appliance> Acquire(
      int64_t key,
      const std::function<std::vector<Drive>()>& drives,
      const std::vector<FoundFilesystem>& fss);
  size_t running() const;

 private:
  struct Slot {
    std::shared_ptr<Appliance> app;  // null while launching
    std::chrono::steady_clock::time_point last_used;
  };
  void Reap();

  const size_t cap_;
  const std::chrono::seconds idle_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<int64_t, Slot> slots_;
  bool stop_ = false;
  std::thread reaper_;  // under mutex_; started by the first Acquire
};

}  // namespace sendense::guest
