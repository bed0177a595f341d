#include <chrono>
#include <iomanip>
#include <iostream>

#include "cli/commands.h"
#include "engine/catalog/guest_index.h"
#include "engine/catalog/record_json.h"
#include "engine/error.h"
#include "engine/guest/indexer.h"
#include "engine/repo/known_vms.h"
#include "engine/repo/repository.h"

namespace sendense::cli {
namespace {

struct IndexArgs {
  std::string vm;
  std::string backup;
  bool retry = false;
  bool stats = false;
  bool json = false;
};

// `index --stats`: how much of each indexed filesystem is read straight
// from the chain, per backup; indexes nothing.
void PrintStats(const Repository& repo, const IndexArgs& args) {
  RequireKnownVm(repo, args.vm);
  auto catalog = repo.OpenCatalog();
  GuestIndex index(repo.CatalogPath());
  nlohmann::json out = nlohmann::json::array();
  for (const auto& b : catalog->Backups(args.vm)) {
    if (b.state != BackupState::kComplete ||
        (!args.backup.empty() && b.name != args.backup)) {
      continue;
    }
    const auto fss = index.Filesystems(b.id);
    if (args.json) {
      out.push_back({{"vm", b.vm},
                     {"backup", b.name},
                     {"filesystems", FilesystemsJson(fss)}});
    } else if (!fss.empty()) {
      std::cout << b.vm << " " << b.name << "\n";
      PrintFilesystems(fss);
    }
  }
  if (args.json) {
    std::cout << nlohmann::json{{"backups", out}}.dump(2) << "\n";
  }
}

void Run(const GlobalOptions& global, const IndexArgs& args) {
  Repository repo(RequireRepo(global));
  if (args.stats) {
    PrintStats(repo, args);
    return;
  }
  repo.OpenCatalogForWriting();  // Error kNoSpace before any appliance
  const auto [todo, skipped] =
      guest::PlanIndexing(repo, args.vm, args.backup, args.retry);
  nlohmann::json out = nlohmann::json::array();
  size_t failed = 0;
  for (size_t i = 0; i < todo.size(); ++i) {
    const auto& b = todo[i];
    if (!args.json) {
      std::cout << "[" << i + 1 << "/" << todo.size() << "] " << b.vm << " "
                << b.name << std::endl;
    }
    const auto start = std::chrono::steady_clock::now();
    std::vector<GuestFilesystem> fss;
    std::string error;
    try {
      fss = guest::IndexBackup(repo, b);
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kNoSpace) {
        throw;  // every other backup would fail the same way
      }
      error = e.what();
      ++failed;
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    if (args.json) {
      out.push_back({{"vm", b.vm},
                     {"backup", b.name},
                     {"seconds", secs},
                     {"error", error},
                     {"filesystems", FilesystemsJson(fss)}});
    } else if (!error.empty()) {
      std::cout << "  failed: " << error << "\n";
    } else {
      PrintFilesystems(fss);
      std::cout << "  (" << std::fixed << std::setprecision(1) << secs
                << " s)\n";
    }
  }
  if (args.json) {
    std::cout << nlohmann::json{{"indexed", out}, {"skipped", skipped}}.dump(2)
              << "\n";
  } else {
    if (todo.empty()) {
      std::cout << "Every complete backup is indexed.\n";
    }
    if (skipped > 0) {
      std::cout << skipped
                << " backup(s) skipped: indexing found no guest filesystem or "
                   "failed before (--retry tries them again)\n";
    }
  }
  if (failed > 0) {
    throw Error(ErrorKind::kIo, "indexing failed for " +
                                    std::to_string(failed) + " of " +
                                    std::to_string(todo.size()) + " backup(s)");
  }
}

}  // namespace

nlohmann::json FilesystemsJson(const std::vector<GuestFilesystem>& fss) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& fs : fss) {
    out.push_back(GuestFilesystemJson(fs));
  }
  return out;
}

void PrintFilesystems(const std::vector<GuestFilesystem>& fss) {
  if (fss.empty()) {
    std::cout << "  no guest filesystem found\n";
  }
  for (const auto& fs : fss) {
    std::cout << "  files/" << fs.name << " (" << fs.fstype << " on "
              << fs.device << "): ";
    if (fs.state == "indexed") {
      std::cout << fs.files << " entries indexed";
      if (fs.regular_files > 0) {
        std::cout << ", " << fs.mapped_files << " of " << fs.regular_files
                  << " files mapped (" << std::fixed << std::setprecision(1)
                  << (fs.file_bytes > 0
                          ? 100.0 * static_cast<double>(fs.mapped_bytes) /
                                static_cast<double>(fs.file_bytes)
                          : 100.0)
                  << "% of " << fs.file_bytes << " bytes)";
      }
      std::cout << "\n";
    } else {
      std::cout << "not readable: " << fs.error << "\n";
    }
  }
}

void RegisterIndex(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<IndexArgs>();
  auto* cmd = app.add_subcommand(
      "index",
      "Index the guest files of backups (those without an index, or one)");
  cmd->add_option("--vm", args->vm, "Only this VM");
  cmd->add_option("--point,--backup", args->backup,
                  "Re-index this point of --vm (its name)");
  cmd->add_flag("--retry", args->retry,
                "Also index backups where no guest filesystem was found or "
                "indexing failed before");
  cmd->add_flag("--stats", args->stats,
                "Show how much of each filesystem is read straight from the "
                "chain (mapped) rather than through an appliance; index "
                "nothing");
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->callback([&global, args] { Run(global, *args); });
}

}  // namespace sendense::cli
