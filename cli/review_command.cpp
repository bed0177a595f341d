// `review`: an admin saw to a point marked suspicious (a mass change of
// its guest files, docs/suspicious-change.md); its reasons stay.

#include <iostream>
#include <memory>

#include "cli/audit_trail.h"
#include "cli/commands.h"
#include "engine/error.h"
#include "engine/repo/known_vms.h"
#include "engine/time.h"

namespace sendense::cli {

void RegisterReview(CLI::App& app, GlobalOptions& global) {
  struct Args {
    std::string vm, point;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "review", "Mark a suspicious point reviewed (its reasons stay)");
  cmd->add_option("--vm", args->vm, "VM name")->required();
  cmd->add_option("POINT", args->point, "The point")->required();
  cmd->callback([&global, args] {
    Repository repo(RequireRepo(global));
    RequireKnownVm(repo, args->vm);
    auto catalog = repo.OpenCatalogForWriting();
    for (const auto& b : catalog->Backups(args->vm)) {
      if (b.name != args->point) {
        continue;
      }
      Audited(repo, "review", args->vm + "/" + args->point, [&] {
        if (!catalog->MarkReviewed(b.id, NowIso())) {
          throw Error(
              ErrorKind::kInvalidArgument,
              args->vm + " " + args->point + " is not marked suspicious");
        }
      });
      std::cout << args->vm << " " << args->point << " marked reviewed\n";
      return;
    }
    throw Error(ErrorKind::kNotFound,
                args->vm + " has no point named '" + args->point + "'");
  });
}

}  // namespace sendense::cli
