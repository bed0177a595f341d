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

// Everything the FUSE callbacks need, reached through the session's user
// data (never through globals).
struct FsContext {
  explicit FsContext(const Repository& r) : repo(r) {}
  const Repository& repo;
  Tree tree;
  ChainCache chains;
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
