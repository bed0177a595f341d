#include <algorithm>
#include <iomanip>
#include <iostream>

#include "cli/commands.h"
#include "engine/catalog/targets.h"
#include "engine/copy/copy.h"
#include "engine/copy/s3_copy.h"
#include "engine/error.h"
#include "engine/repo/repository.h"

namespace sendense::cli {
namespace {

struct CopyArgs {
  copy::CopyRequest request;
  std::string from;
  bool json = false;
};

void PrintReport(const copy::CopyReport& r) {
  if (r.backups.empty()) {
    std::cout << r.to << " has every complete backup already\n";
  }
  for (const auto& b : r.backups) {
    std::cout << b.vm << "  " << b.backup << "  " << b.state;
    for (const auto& p : b.points) {
      std::cout << "  " << p.disk << " " << p.how << " ("
                << HumanBytes(static_cast<double>(p.bytes)) << ")";
    }
    std::cout << "\n";
    if (!b.error.empty()) {
      std::cout << "    " << b.error << "\n";
    }
  }
  std::cout << "copied " << HumanBytes(static_cast<double>(r.bytes)) << " to "
            << r.to << " in " << std::fixed << std::setprecision(1)
            << std::max(r.seconds, 0.1) << " s\n";
}

}  // namespace

void RegisterCopy(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<CopyArgs>();
  auto* cmd = app.add_subcommand(
      "copy",
      "Copy the backups another repository lacks to it (3-2-1): new "
      "incrementals as they are stored, whole points where it has no "
      "earlier one");
  auto* to = cmd->add_option(
      "--to", args->request.to,
      "The other repository (init-ed), or a target's name (target add)");
  cmd->add_option("--from", args->from,
                  "An S3 target's name: rebuild this repository's backups "
                  "from its bucket")
      ->excludes(to);
  cmd->add_option("--vm", args->request.vm, "Only this VM");
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->callback([&global, args] {
    Repository repo(RequireRepo(global));
    JobProgress progress;
    if (args->from.empty() && args->request.to.empty()) {
      throw Error(ErrorKind::kInvalidArgument,
                  "copy needs --to REPO2|TARGET or --from TARGET");
    }
    const auto report =
        args->from.empty()
            ? copy::Copy(repo, args->request, progress)
            : copy::CopyFromS3(repo,
                               Targets(repo.CatalogPath()).Require(args->from),
                               args->request.vm, progress);
    if (args->json) {
      std::cout << copy::CopyReportJson(report).dump(2) << "\n";
    } else {
      PrintReport(report);
    }
    if (const size_t bad = report.not_copied()) {
      throw Error(ErrorKind::kIo,
                  std::to_string(bad) +
                      " backup(s) were not copied (see above); the next copy "
                      "tries again from there");
    }
  });
}

}  // namespace sendense::cli
