#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sendense {

// A fixed set of named worker threads that run submitted tasks in order of
// arrival: the FUSE loop hands slow reads to one (workers reply to the
// kernel themselves), the QCOW2 writer its compression. Tasks must not
// throw.
class WorkerPool {
 public:
  WorkerPool(size_t threads, const std::string& name);
  ~WorkerPool();  // runs what is queued, then joins
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Submit(std::function<void()> task);

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace sendense
