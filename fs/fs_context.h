#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "engine/browse/namespace.h"
#include "engine/worker_pool.h"

namespace sendense::fs {

// Files the kernel holds open (their address is fuse_file_info::fh), owned
// here: a lazy unmount can end the session before every release arrives,
// and what is left goes with the context.
class OpenFiles {
 public:
  template <typename T>
  T* Keep(std::unique_ptr<T> file) {
    T* raw = file.get();
    std::lock_guard lock(mutex_);
    files_[reinterpret_cast<uint64_t>(raw)] =
        std::shared_ptr<T>(std::move(file));
    return raw;
  }
  void Drop(uint64_t handle) {
    std::shared_ptr<void> gone;  // freed outside the lock
    std::lock_guard lock(mutex_);
    if (auto it = files_.find(handle); it != files_.end()) {
      gone = std::move(it->second);
      files_.erase(it);
    }
  }

 private:
  std::mutex mutex_;
  std::unordered_map<uint64_t, std::shared_ptr<void>> files_;
};

// Everything the FUSE callbacks need, reached through the session's user
// data (never through globals). Members go in reverse order: queued reads
// are answered (`reads` drains) while the files they use are still open,
// and the namespace outlives the context.
struct FsContext {
  explicit FsContext(browse::Namespace& n) : ns(n) {}
  browse::Namespace& ns;
  OpenFiles open_files;
  std::unique_ptr<WorkerPool> reads;  // created once the process is final
};

}  // namespace sendense::fs
