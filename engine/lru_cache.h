#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace sendense {

// A bounded cache of shared, immutable values by key; the least recently
// used goes first. Thread-safe: a hit takes the lock briefly; a miss loads
// outside it (two threads missing the same key may both load: the first
// stored wins, the other is dropped), so a slow load never stalls hits.
template <typename Key, typename Value>
class LruCache {
 public:
  explicit LruCache(size_t capacity = 1) : capacity_(capacity) {}
  void set_capacity(size_t capacity) {
    std::lock_guard lock(mutex_);
    capacity_ = capacity < 1 ? 1 : capacity;
  }

  // The value of `key`, from the cache or from `load()` (a callable
  // returning std::shared_ptr<const Value>).
  template <typename Load>
  std::shared_ptr<const Value> GetOrLoad(const Key& key, Load&& load) {
    {
      std::lock_guard lock(mutex_);
      if (auto it = index_.find(key); it != index_.end()) {
        order_.splice(order_.begin(), order_, it->second);
        return it->second->second;
      }
    }
    std::shared_ptr<const Value> value = load();
    std::lock_guard lock(mutex_);
    if (auto it = index_.find(key); it != index_.end()) {
      return it->second->second;
    }
    order_.emplace_front(key, value);
    index_[key] = order_.begin();
    if (order_.size() > capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
    return value;
  }

 private:
  std::mutex mutex_;
  size_t capacity_;
  // Most recently used first.
  std::list<std::pair<Key, std::shared_ptr<const Value>>> order_;
  std::unordered_map<Key, typename decltype(order_)::iterator> index_;
};

}  // namespace sendense
