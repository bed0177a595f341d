#pragma once

#include <chrono>
#include <memory>

#include "engine/periodic.h"
#include "engine/repo/repository.h"

namespace sendense::exports {

// serve's exports (owner "serve"): started again when serve starts (they
// were stopped when it stopped) and whenever their server dies (logged),
// stopped when serve stops; their records stay. Exports made by the CLI
// are left alone.
class ExportSupervisor {
 public:
  ExportSupervisor(const Repository& repo, std::chrono::milliseconds period);
  ~ExportSupervisor();
  ExportSupervisor(const ExportSupervisor&) = delete;
  ExportSupervisor& operator=(const ExportSupervisor&) = delete;

 private:
  void Check();

  const Repository& repo_;
  std::unique_ptr<PeriodicThread> ticker_;  // stopped first
};

}  // namespace sendense::exports
