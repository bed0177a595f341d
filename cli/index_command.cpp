#include <iostream>

#include "cli/commands.h"
#include "engine/catalog/guest_index.h"
#include "engine/error.h"
#include "engine/guest/indexer.h"
#include "engine/repo/repository.h"

namespace sendense::cli {
namespace {

struct IndexArgs {
  std::string vm;
  std::string backup;
  bool json = false;
};

void Run(const GlobalOptions& global, const IndexArgs& args) {
  Repository repo(RequireRepo(global));
  if (!args.backup.empty() && args.vm.empty()) {
    throw Error(ErrorKind::kInvalidArgument, "--backup needs --vm");
  }
  auto catalog = repo.OpenCatalog();
  if (!args.vm.empty() && !catalog->FindVm(args.vm)) {
    throw Error(ErrorKind::kNotFound, "no VM named '" + args.vm + "'");
  }
  GuestIndex index(repo.Absolute("catalog.db"));
  std::vector<BackupRecord> todo;
  for (const auto& b : catalog->Backups(args.vm)) {
    if (b.state != "complete") {
      continue;
    }
    if (!args.backup.empty() ? b.name == args.backup
                             : index.Filesystems(b.id).empty()) {
      todo.push_back(b);
    }
  }
  if (!args.backup.empty() && todo.empty()) {
    throw Error(ErrorKind::kNotFound, "no complete backup '" + args.backup +
                                          "' of VM '" + args.vm + "'");
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& b : todo) {
    const auto fss = guest::IndexBackup(repo, b);
    if (args.json) {
      out.push_back({{"vm", b.vm},
                     {"backup", b.name},
                     {"filesystems", FilesystemsJson(fss)}});
    } else {
      std::cout << b.vm << " " << b.name << "\n";
      PrintFilesystems(fss);
    }
  }
  if (args.json) {
    std::cout << nlohmann::json{{"indexed", out}}.dump(2) << "\n";
  } else if (todo.empty()) {
    std::cout << "Every complete backup is indexed.\n";
  }
}

}  // namespace

nlohmann::json FilesystemsJson(const std::vector<GuestFilesystem>& fss) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& fs : fss) {
    out.push_back({{"name", fs.name},
                   {"device", fs.device},
                   {"fstype", fs.fstype},
                   {"state", fs.state},
                   {"error", fs.error},
                   {"files", fs.files}});
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
      std::cout << fs.files << " entries indexed\n";
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
  cmd->add_option("--backup", args->backup,
                  "Re-index this backup of --vm (its name)");
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->callback([&global, args] { Run(global, *args); });
}

}  // namespace sendense::cli
