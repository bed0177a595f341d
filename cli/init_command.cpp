#include <iostream>

#include "cli/commands.h"
#include "engine/repo/repository.h"

namespace sendense::cli {

void RegisterInit(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("init", "Create a new repository");
  cmd->callback([&global] {
    const std::string& repo = RequireRepo(global);
    Repository::Init(repo);
    std::cout << "Initialised repository " << repo << "\n"
              << "API token: " << Repository(repo).TokenPath() << "\n";
  });
}

}  // namespace sendense::cli
