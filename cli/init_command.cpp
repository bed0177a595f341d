#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/usage_errors.h"
#include "engine/error.h"
#include "engine/repo/immutability.h"
#include "engine/repo/repository.h"

namespace sendense::cli {

void RegisterInit(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("init", "Create a new repository");
  auto days = std::make_shared<double>(0);
  cmd->add_option("--immutable-days", *days,
                  "Make every published point immutable for this many days "
                  "(the filesystem's immutable flag; ext4, XFS, btrfs)")
      ->check(Between(0, 36500, "days"));
  cmd->callback([&global, days] {
    const std::string& path = RequireRepo(global);
    Repository::Init(path);
    if (*days > 0) {
      const std::string why = ImmutableSupport(path);
      if (!why.empty()) {
        // Nothing of it is in use yet: it was new or empty.
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(path, ec)) {
          std::filesystem::remove_all(e.path(), ec);
        }
        throw Error(ErrorKind::kUnsupported,
                    why + "; the repository was not created");
      }
      Repository repo(path);
      repo.OpenCatalogForWriting()->SetSetting("immutable_days",
                                               std::to_string(*days));
    }
    std::cout << "Initialised repository " << path << "\n"
              << "API token: " << Repository(path).TokenPath() << "\n";
    if (*days > 0) {
      std::cout << "Points are immutable for " << *days
                << (*days == 1 ? " day" : " days")
                << " after they are published\n";
    }
  });
}

}  // namespace sendense::cli
