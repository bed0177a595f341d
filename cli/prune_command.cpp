#include <algorithm>
#include <iomanip>
#include <iostream>

#include "cli/audit_trail.h"
#include "cli/commands.h"
#include "cli/usage_errors.h"
#include "engine/catalog/targets.h"
#include "engine/copy/target_prune.h"
#include "engine/error.h"
#include "engine/repo/repository.h"
#include "engine/retention/prune.h"

namespace sendense::cli {
namespace {

struct PruneArgs {
  std::string vm;
  std::string target;
  retention::Policy policy;
  std::vector<std::string> points;
  bool dry_run = false;
  bool json = false;
  double reader_wait = 10;
};

void PrintReport(const retention::PruneReport& r, bool forget) {
  std::cout << r.vm << " ("
            << (forget ? std::string("forget: the points named")
                       : retention::DescribePolicy(r.policy))
            << ")\n";
  for (const auto& d : r.decisions) {
    std::cout << "  " << std::left << std::setw(24) << d.name << std::setw(6)
              << (d.keep ? "keep" : "drop");
    for (size_t i = 0; i < d.reasons.size(); ++i) {
      std::cout << (i == 0 ? "" : ", ") << d.reasons[i];
    }
    std::cout << "\n";
  }
  if (r.dry_run) {
    return;
  }
  for (const auto& name : r.removed) {
    std::cout << "  removed the record of failed backup " << name << "\n";
  }
  std::cout << "  dropped " << r.dropped.size() << " point"
            << (r.dropped.size() == 1 ? "" : "s") << ", merged "
            << HumanBytes(static_cast<double>(r.merged_bytes)) << ", freed "
            << HumanBytes(static_cast<double>(r.freed_bytes)) << "\n";
}

void AddReaderWait(CLI::App& cmd, double& seconds) {
  cmd.add_option("--reader-wait", seconds,
                 "Seconds to wait for readers of a point being dropped "
                 "(default 10); then it stays hidden for the next prune")
      ->check(Between(0, 86400, "seconds"));
}

std::chrono::milliseconds ReaderWait(const PruneArgs& args) {
  return std::chrono::milliseconds(
      static_cast<int64_t>(args.reader_wait * 1000));
}

void Print(const std::vector<retention::PruneReport>& reports,
           bool json,
           bool forget = false) {
  if (json) {
    std::cout << retention::PrunesJson(reports).dump(2) << "\n";
    return;
  }
  for (const auto& r : reports) {
    PrintReport(r, forget);
  }
}

}  // namespace

std::vector<CLI::Option*> AddKeepOptions(CLI::App& cmd,
                                         retention::Policy& policy) {
  std::vector<CLI::Option*> options;
  const auto add = [&](const char* name, int& count, const char* what) {
    options.push_back(
        cmd.add_option(name, count, what)->check(Between(0, 100000, "points")));
  };
  add("--keep-last", policy.last, "Keep the newest N points");
  add("--keep-hourly", policy.hourly, "Keep the newest point of N hours");
  add("--keep-daily", policy.daily, "Keep the newest point of N days (UTC)");
  add("--keep-weekly", policy.weekly, "Keep the newest point of N ISO weeks");
  add("--keep-monthly", policy.monthly, "Keep the newest point of N months");
  add("--keep-yearly", policy.yearly, "Keep the newest point of N years");
  return options;
}

void RegisterPrune(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<PruneArgs>();
  auto* prune = app.add_subcommand(
      "prune",
      "Drop the points a retention policy does not keep, merging their data "
      "into the points that stay");
  prune->add_option("--vm", args->vm, "Only this VM (default: every VM)");
  prune->add_option("--target", args->target,
                    "Prune a copy target by its own policy (target set "
                    "--keep-*), never before its Object Lock ends");
  const auto keep_options = AddKeepOptions(*prune, args->policy);
  prune->add_flag("--dry-run", args->dry_run,
                  "Only show what would be kept and dropped, and why");
  prune->add_flag("--json", args->json, "Print JSON");
  AddReaderWait(*prune, args->reader_wait);
  prune->callback([&global, args, keep_options] {
    Repository repo(RequireRepo(global));
    retention::PruneRequest request;
    request.vm = args->vm;
    const bool given =
        std::any_of(keep_options.begin(), keep_options.end(),
                    [](const CLI::Option* o) { return o->count(); });
    if (given && args->policy.empty()) {
      // Every count given is 0: that policy keeps nothing; it is never
      // taken to mean "the stored policy".
      throw Error(ErrorKind::kInvalidArgument,
                  "--keep-* 0 keeps no point: give a count above 0, or no "
                  "--keep-* option to run each VM's stored policy");
    }
    if (given) {
      request.policy = args->policy;
    }
    request.dry_run = args->dry_run;
    request.drop.reader_wait = ReaderWait(*args);
    if (!args->target.empty()) {
      const Target target = Targets(repo.CatalogPath()).Require(args->target);
      const auto run = [&] {
        Print(copy::PruneTarget(repo, target, request), args->json);
      };
      if (request.dry_run) {
        run();
      } else {
        Audited(repo, "prune --target " + target.name, args->vm, run);
      }
      return;
    }
    if (request.dry_run) {
      Print(retention::Prune(repo, request), args->json);
      return;
    }
    Audited(repo, "prune", args->vm,
            [&] { Print(retention::Prune(repo, request), args->json); });
  });

  auto* forget = app.add_subcommand(
      "forget",
      "Drop the named points of a VM, merging their data into the "
      "points that stay");
  forget->add_option("--vm", args->vm, "VM name")->required();
  forget->add_option("--target", args->target,
                     "Delete the points from this copy target instead");
  forget
      ->add_option("POINT", args->points,
                   "Point names, e.g. "
                   "2026-11-24T09.00.00Z")
      ->required();
  forget->add_flag("--json", args->json, "Print JSON");
  AddReaderWait(*forget, args->reader_wait);
  forget->callback([&global, args] {
    Repository repo(RequireRepo(global));
    std::string points;
    for (const auto& p : args->points) {
      points += (points.empty() ? "" : ",") + p;
    }
    if (!args->target.empty()) {
      const Target target = Targets(repo.CatalogPath()).Require(args->target);
      Audited(
          repo, "forget --target " + target.name, args->vm + "/" + points, [&] {
            Print({copy::ForgetInTarget(repo, target, args->vm, args->points)},
                  args->json, /*forget=*/true);
          });
      return;
    }
    Audited(repo, "forget", args->vm + "/" + points, [&] {
      Print({retention::Forget(repo, args->vm, args->points,
                               DropOptions{ReaderWait(*args)})},
            args->json, /*forget=*/true);
    });
  });
}

}  // namespace sendense::cli
