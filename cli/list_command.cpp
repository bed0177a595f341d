#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "engine/catalog/record_json.h"
#include "engine/error.h"
#include "engine/repo/capacity_report.h"
#include "engine/repo/known_vms.h"
#include "engine/repo/repository.h"

namespace sendense::cli {
namespace {

struct ListArgs {
  std::string vm;
  bool json = false;
};

nlohmann::json ToJson(const std::vector<std::string>& vms,
                      const std::vector<BackupRecord>& backups) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& vm : vms) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& b : backups) {
      if (b.vm != vm) {
        continue;
      }
      list.push_back(BackupJson(b));
    }
    out.push_back({{"name", vm}, {"backups", list}});
  }
  return {{"vms", out}};
}

std::string Join(const nlohmann::json& reasons) {
  std::string out;
  for (const auto& r : reasons) {
    out += (out.empty() ? "" : "; ") + r.get<std::string>();
  }
  return out;
}

void PrintText(const std::vector<std::string>& vms,
               const std::vector<BackupRecord>& backups) {
  if (vms.empty()) {
    std::cout << "No backups yet.\n";
  }
  for (const auto& vm : vms) {
    std::cout << vm << "\n";
    for (const auto& b : backups) {
      if (b.vm != vm) {
        continue;
      }
      std::cout << "  " << std::left << std::setw(24) << b.name << std::setw(13)
                << (b.kind().empty() ? "-" : b.kind()) << std::setw(10)
                << StateName(b.state);
      if (!b.error.empty()) {
        std::cout << b.error;
      }
      std::cout << "\n";
      if (!b.suspicion.empty()) {
        const auto s = nlohmann::json::parse(b.suspicion, nullptr, false);
        const std::string state = s.is_object() ? s.value("state", "") : "";
        if (state == "suspicious" || state == "reviewed") {
          std::cout << "      "
                    << (state == "suspicious" ? "SUSPICIOUS" : "reviewed")
                    << ": " << Join(s["reasons"]) << "\n";
        }
      }
      for (const auto& p : b.points) {
        std::cout << "      " << std::setw(10) << p.disk << std::setw(13)
                  << KindName(p.kind) << HumanBytes(p.virtual_size)
                  << " disk, read " << HumanBytes(p.bytes_read) << ", on disk "
                  << HumanBytes(p.bytes_stored);
        if (p.encrypted) {
          std::cout << ", encrypted";
        }
        if (!p.immutable_until.empty()) {
          std::cout << ", immutable until " << p.immutable_until;
        }
        std::cout << "\n";
      }
      for (const auto& c : b.copies) {
        std::cout << "      copied to " << c << "\n";
      }
    }
  }
}

}  // namespace

void RegisterList(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<ListArgs>();
  auto* cmd = app.add_subcommand("list", "List VMs, backups and points");
  cmd->add_option("--vm", args->vm, "Only this VM");
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->callback([&global, args] {
    Repository repo(RequireRepo(global));
    auto catalog = repo.OpenCatalog();
    std::vector<std::string> vms;
    if (args->vm.empty()) {
      vms = catalog->VmNames();
    } else {
      RequireKnownVm(repo, args->vm);
      vms.push_back(args->vm);
    }
    const auto backups = catalog->Backups(args->vm);
    const auto capacity = MeasureCapacity(repo, catalog->Backups(""));
    if (args->json) {
      auto out = ToJson(vms, backups);
      out["repository"] = CapacityJson(capacity);
      std::cout << out.dump(2) << "\n";
    } else {
      PrintText(vms, backups);
      std::cout << "Repository: " << HumanBytes(capacity.used_bytes)
                << " used, " << HumanBytes(capacity.free_bytes) << " free, "
                << (capacity.growth_known
                        ? "growing " +
                              HumanBytes(capacity.growth_bytes_per_day) +
                              " a day"
                        : std::string("growth known after a day of backups"))
                << "\n";
    }
  });
}

}  // namespace sendense::cli
