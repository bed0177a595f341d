#include <csignal>

#include "cli/commands.h"
#include "engine/catalog/accounts.h"
#include "engine/repo/repository_key.h"
#include "fs/mount.h"

namespace sendense::cli {

void RegisterMount(CLI::App& app, GlobalOptions& global) {
  auto options = std::make_shared<fs::MountOptions>();
  auto* cmd = app.add_subcommand(
      "mount", "Mount the repository as a read-only tree of points-in-time");
  cmd->add_option("MOUNTPOINT", options->mountpoint, "An existing directory")
      ->required();
  cmd->add_flag("--foreground,-f", options->foreground,
                "Stay in the foreground (logs on stderr)");
  cmd->add_flag("--allow-other", options->allow_other,
                "Let other users in (with default_permissions)");
  cmd->add_option("--tenant", options->tenant,
                  "Only this tenant's VMs, by their names within it");
  cmd->callback([&global, options] {
    SetSecretPrompt(nullptr);  // it runs on: it never asks
    // Inherited "ignore" dispositions would keep libfuse from installing
    // its handlers: SIGINT/SIGTERM must unmount.
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    Repository repo(RequireRepo(global));
    if (!options->tenant.empty()) {
      Accounts(repo.CatalogPath()).RequireTenant(options->tenant);
    }
    fs::MountAndServe(repo, *options);
  });
}

}  // namespace sendense::cli
