#include "engine/guest/appliance_pool.h"

#include <cstdio>

#include "engine/log.h"

namespace sendense::guest {

AppliancePool::AppliancePool(size_t cap, std::chrono::seconds idle)
    : cap_(std::max<size_t>(1, cap)), idle_(idle) {}

AppliancePool::~AppliancePool() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  if (reaper_.joinable()) {
    reaper_.join();
  }
}

size_t AppliancePool::running() const {
  std::lock_guard lock(mutex_);
  return slots_.size();
}

std::shared_ptr<Appliance> AppliancePool::Acquire(
    int64_t key,
    const std::function<std::vector<Drive>()>& drives,
    const std::vector<FoundFilesystem>& fss) {
  std::unique_lock lock(mutex_);
  if (!reaper_.joinable()) {
    reaper_ = std::thread([this] { Reap(); });
  }
  while (true) {
    auto it = slots_.find(key);
    if (it != slots_.end()) {
      if (it->second.app) {
        it->second.last_used = std::chrono::steady_clock::now();
        return it->second.app;
      }
      changed_.wait(lock);  // being launched by another reader
      continue;
    }
    if (slots_.size() < cap_) {
      break;
    }
    // Full: replace the least recently used appliance nobody is using.
    auto victim = slots_.end();
    for (auto s = slots_.begin(); s != slots_.end(); ++s) {
      if (s->second.app && s->second.app.use_count() == 1 &&
          (victim == slots_.end() ||
           s->second.last_used < victim->second.last_used)) {
        victim = s;
      }
    }
    if (victim == slots_.end()) {
      changed_.wait(lock);
      continue;
    }
    auto closing = std::move(victim->second.app);
    slots_.erase(victim);
    lock.unlock();
    closing.reset();
    lock.lock();
  }
  slots_[key] = Slot{};
  lock.unlock();
  std::shared_ptr<Appliance> app;
  try {
    // A first guest read waits for this: say so, since without KVM it
    // takes 10-20 s and nothing else shows.
    Log(LogLevel::kInfo, "starting a guest appliance for backup " +
                             std::to_string(key) +
                             " (the first read of its files waits for it)");
    const auto start = std::chrono::steady_clock::now();
    app = std::make_shared<Appliance>(drives());
    const auto errors = app->MountAll(fss);
    for (size_t i = 0; i < errors.size(); ++i) {
      if (!errors[i].empty()) {
        Log(LogLevel::kError, errors[i]);
      }
    }
    char took[32];
    std::snprintf(
        took, sizeof took, "%.1f",
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count());
    Log(LogLevel::kInfo, "appliance for backup " + std::to_string(key) +
                             " ready in " + took + " s");
  } catch (...) {
    lock.lock();
    slots_.erase(key);
    changed_.notify_all();
    throw;
  }
  lock.lock();
  slots_[key] = Slot{app, std::chrono::steady_clock::now()};
  changed_.notify_all();
  return app;
}

void AppliancePool::Reap() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    changed_.wait_for(lock, std::chrono::seconds(1));
    std::vector<std::shared_ptr<Appliance>> closing;
    const auto now = std::chrono::steady_clock::now();
    for (auto it = slots_.begin(); it != slots_.end();) {
      if (it->second.app && it->second.app.use_count() == 1 &&
          (stop_ || now - it->second.last_used > idle_)) {
        closing.push_back(std::move(it->second.app));
        it = slots_.erase(it);
      } else {
        ++it;
      }
    }
    if (!closing.empty()) {
      lock.unlock();
      closing.clear();  // shuts the appliances down outside the lock
      changed_.notify_all();
      lock.lock();
    }
  }
}

}  // namespace sendense::guest
