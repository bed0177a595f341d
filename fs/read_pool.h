#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sendense::fs {

// A fixed set of named worker threads that run submitted tasks in order of
// arrival. The FUSE loop hands slow requests (disk reads) to it and goes
// on; workers reply to the kernel themselves.
class ReadPool {
 public:
  ReadPool(size_t threads, const std::string& name);
  ~ReadPool();  // runs what is queued, then joins
  ReadPool(const ReadPool&) = delete;
  ReadPool& operator=(const ReadPool&) = delete;

  void Submit(std::function<void()> task);

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace sendense::fs
