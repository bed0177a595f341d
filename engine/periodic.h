#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace sendense {

// Runs `tick` every `period` on a thread of its own until destroyed (the
// destructor wakes it and joins). `tick` must not throw.
class PeriodicThread {
 public:
  PeriodicThread(std::chrono::duration<double> period,
                 std::function<void()> tick)
      : period_(period), tick_(std::move(tick)), thread_([this] { Loop(); }) {}
  ~PeriodicThread() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

 private:
  void Loop() {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, period_, [this] { return stop_; })) {
      lock.unlock();
      tick_();
      lock.lock();
    }
  }

  std::chrono::duration<double> period_;
  std::function<void()> tick_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the rest is ready
};

}  // namespace sendense
