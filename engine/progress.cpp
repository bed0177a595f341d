#include "engine/progress.h"

namespace sendense {

void JobProgress::SetBackupName(const std::string& name) {
  std::lock_guard lock(mutex_);
  backup_name_ = name;
}

std::string JobProgress::backup_name() const {
  std::lock_guard lock(mutex_);
  return backup_name_;
}

}  // namespace sendense
