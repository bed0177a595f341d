#include "engine/export/export_supervisor.h"

#include "engine/export/exports.h"
#include "engine/log.h"

namespace sendense::exports {

ExportSupervisor::ExportSupervisor(const Repository& repo,
                                   std::chrono::milliseconds period)
    : repo_(repo) {
  Check();
  ticker_ = std::make_unique<PeriodicThread>(period, [this] { Check(); });
}

ExportSupervisor::~ExportSupervisor() {
  ticker_.reset();
  try {
    for (const auto& s : ListExports(repo_)) {
      if (s.record.owner == "serve" && s.state == "serving") {
        StopExport(repo_, s.record);
      }
    }
  } catch (const std::exception& e) {
    Log(LogLevel::kError, std::string("stopping exports: ") + e.what());
  }
}

void ExportSupervisor::Check() {
  try {
    for (auto& s : ListExports(repo_)) {
      if (s.record.owner != "serve" || s.state != "dead") {
        continue;
      }
      const std::string name = "export " + std::to_string(s.record.id);
      if (s.record.pid > 0) {
        Log(LogLevel::kWarning, name + ": its NBD server (pid " +
                                    std::to_string(s.record.pid) +
                                    ") is gone; starting it again");
      }
      try {
        RestartExport(repo_, s.record);
        Log(LogLevel::kInfo, name + " serving at " + s.uri);
      } catch (const std::exception& e) {
        Log(LogLevel::kError, name + " cannot be started: " + e.what());
      }
    }
  } catch (const std::exception& e) {
    Log(LogLevel::kError, std::string("checking exports: ") + e.what());
  }
}

}  // namespace sendense::exports
