#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "engine/catalog/guest_index.h"
#include "engine/guest/appliance_pool.h"
#include "engine/qcow2/chain_reader.h"
#include "engine/repo/repository.h"
#include "fs/read_pool.h"
#include "fs/tree.h"

namespace sendense::fs {

// Opened chains shared by every open file of the same point; a chain is
// closed when its last file is.
class ChainCache {
 public:
  std::shared_ptr<const qcow2::ChainReader> Open(const std::string& path);

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, std::weak_ptr<const qcow2::ChainReader>>
      open_;
};

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
// data (never through globals).
struct FsContext {
  explicit FsContext(const Repository& r) : repo(r) {}
  const Repository& repo;
  Tree tree;
  ChainCache chains;
  OpenFiles open_files;             // outlives `reads`, whose tasks use them
  std::unique_ptr<ReadPool> reads;  // created once the process is final
  // The guest file index, for the loop thread (and whoever locks).
  std::mutex index_mutex;
  std::unique_ptr<GuestIndex> index;
  // Appliances that read guest file content: the daemon's own (created
  // with `reads`) or one shared with the HTTP API.
  std::unique_ptr<guest::AppliancePool> own_appliances;
  guest::AppliancePool* appliances = nullptr;
};

}  // namespace sendense::fs
