// target add|set|list|check|rm: where copies go, by name: another
// repository in a directory, or S3 object storage with an optional Object
// Lock, each with its own retention (docs/offsite.md).

#include <filesystem>
#include <iostream>

#include "cli/audit_trail.h"
#include "cli/commands.h"
#include "engine/catalog/targets.h"
#include "engine/copy/s3_target.h"
#include "engine/error.h"

namespace sendense::cli {
namespace {

struct TargetArgs {
  std::string name;
  std::string s3;
  std::string dir;
  std::string credentials;
  std::string region;
  std::string ca;
  int64_t lock_days = 0;
  std::string lock_mode;
  std::string bandwidth;
  retention::Policy policy;
  bool no_retention = false;
  int64_t full_every = 0;
  bool json = false;
};

Targets Open(const GlobalOptions& global) {
  return Targets(Repository(RequireRepo(global)).CatalogPath());
}

std::string Absolute(const std::string& path) {
  return path.empty() ? "" : std::filesystem::absolute(path).lexically_normal();
}

// One line of `target list` / `target check`.
std::string Describe(const Target& t) {
  std::string s = t.name + "  " + t.kind + "  " + t.location;
  if (t.lock_days > 0) {
    s += "  Object Lock " + t.lock_mode + " " + std::to_string(t.lock_days) +
         " days";
  }
  if (t.bandwidth > 0) {
    s += "  at most " + std::to_string(t.bandwidth >> 20) + " MiB/s";
  }
  if (!t.retention.empty()) {
    s += "  " + retention::DescribePolicy(t.retention);
  }
  if (t.full_every > 0) {
    s += "  a full every " + std::to_string(t.full_every) + " points";
  }
  return s;
}

// The options `target add` and `target set` share.
struct SharedOptions {
  CLI::Option *lock_days, *lock_mode, *bandwidth, *full_every;
};

SharedOptions AddSharedOptions(CLI::App& cmd, TargetArgs& args) {
  SharedOptions o;
  o.lock_days = cmd.add_option(
      "--lock-days", args.lock_days,
      "Object Lock every object until the backup's time + N days");
  o.lock_mode =
      cmd.add_option("--lock-mode", args.lock_mode,
                     "compliance (nobody can delete it) or governance");
  o.bandwidth = cmd.add_option("--bandwidth", args.bandwidth,
                               "At most this much per second (50MiB/s)");
  AddKeepOptions(cmd, args.policy);
  o.full_every = cmd.add_option(
      "--full-every", args.full_every,
      "S3: copy a point whole when its chain in the bucket holds N "
      "points, so that prune can let older chains go (0: never)");
  return o;
}

}  // namespace

void RegisterTarget(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<TargetArgs>();
  auto* target = app.add_subcommand(
      "target", "Where copies go: a repository or S3 (add, list, check, rm)");
  target->require_subcommand(1);

  auto* add = target->add_subcommand("add", "Add a copy target");
  add->add_option("NAME", args->name, "Target name")->required();
  auto* s3 = add->add_option("--s3", args->s3,
                             "S3 object storage: https://ENDPOINT/BUCKET"
                             "[/PREFIX]");
  add->add_option("--dir", args->dir, "Another repository's directory")
      ->excludes(s3);
  add->add_option("--credentials", args->credentials,
                  "A file (mode 0600) of access_key = ... and secret_key = "
                  "... lines (default: AWS_ACCESS_KEY_ID and "
                  "AWS_SECRET_ACCESS_KEY)");
  add->add_option("--region", args->region, "S3 region (default us-east-1)");
  add->add_option("--ca", args->ca,
                  "A CA certificate for a private gateway (PEM)");
  AddSharedOptions(*add, *args);
  add->callback([&global, args] {
    Target t;
    t.name = args->name;
    if (args->s3.empty() == args->dir.empty()) {
      throw Error(ErrorKind::kInvalidArgument,
                  "target add needs --s3 URL or --dir DIRECTORY");
    }
    t.kind = args->s3.empty() ? "dir" : "s3";
    t.location = args->s3.empty() ? Absolute(args->dir) : args->s3;
    t.credentials = Absolute(args->credentials);
    t.region = args->region;
    t.ca_file = Absolute(args->ca);
    t.lock_days = args->lock_days;
    t.lock_mode = args->lock_mode;
    t.bandwidth = args->bandwidth.empty() ? 0 : ParseBandwidth(args->bandwidth);
    t.retention = args->policy;
    t.full_every = args->full_every;
    if (const std::string why = copy::TargetProblem(t); !why.empty()) {
      throw Error(ErrorKind::kInvalidArgument,
                  "target " + t.name + " cannot take copies: " + why);
    }
    if (t.kind == "dir") {
      t.repository_id = Repository(t.location).Id();
    }
    Audited(Repository(RequireRepo(global)), "target add", t.name,
            [&] { Open(global).Add(t); });
    std::cout << "Added target " << t.name << "\n";
  });

  auto* set = target->add_subcommand(
      "set", "Change a target's retention, full-every, lock or bandwidth");
  set->add_option("NAME", args->name, "Target name")->required();
  const SharedOptions set_options = AddSharedOptions(*set, *args);
  set->add_flag("--no-retention", args->no_retention,
                "Keep everything there (no policy; prune only when asked)");
  set->callback([&global, args, set_options] {
    Targets targets = Open(global);
    Target t = targets.Require(args->name);
    if (args->no_retention && !args->policy.empty()) {
      throw Error(ErrorKind::kInvalidArgument,
                  "--no-retention and --keep-* contradict each other");
    }
    if (!args->policy.empty() || args->no_retention) {
      t.retention = args->policy;  // the rules given replace the old
    }
    if (set_options.lock_days->count() > 0) {
      t.lock_days = args->lock_days;
      t.lock_mode = args->lock_days == 0 ? "" : t.lock_mode;
    }
    if (set_options.lock_mode->count() > 0) {
      t.lock_mode = args->lock_mode;
    }
    if (set_options.bandwidth->count() > 0) {
      t.bandwidth = ParseBandwidth(args->bandwidth);
    }
    if (set_options.full_every->count() > 0) {
      t.full_every = args->full_every;
    }
    if (t.kind == "s3" && set_options.lock_days->count() > 0 &&
        t.lock_days > 0) {
      copy::CheckS3Target(t);  // the bucket must have Object Lock
    }
    Audited(Repository(RequireRepo(global)), "target set", t.name,
            [&] { targets.Update(t); });
    std::cout << "Changed target " << t.name << ": " << Describe(t) << "\n";
  });

  auto* list = target->add_subcommand("list", "Copy targets");
  list->add_flag("--json", args->json, "One JSON document");
  list->callback([&global, args] {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& t : Open(global).List()) {
      out.push_back(TargetJson(t));
      if (!args->json) {
        std::cout << Describe(t) << "\n";
      }
    }
    if (args->json) {
      std::cout << nlohmann::json{{"targets", out}}.dump(2) << "\n";
    } else if (out.empty()) {
      std::cout << "No targets.\n";
    }
  });

  auto* check =
      target->add_subcommand("check", "Whether a target can take copies now");
  check->add_option("NAME", args->name, "Target name")->required();
  check->callback([&global, args] {
    const Target t = Open(global).Require(args->name);
    if (const std::string why = copy::TargetProblem(t); !why.empty()) {
      throw Error(ErrorKind::kIo,
                  "target " + t.name + " cannot take copies: " + why);
    }
    std::cout << "Target " << t.name << " is ready.\n";
  });

  auto* rm = target->add_subcommand(
      "rm", "Forget a target (what it holds stays there)");
  rm->add_option("NAME", args->name, "Target name")->required();
  rm->callback([&global, args] {
    Audited(Repository(RequireRepo(global)), "target rm", args->name,
            [&] { Open(global).Remove(args->name); });
    std::cout << "Removed target " << args->name << "\n";
  });
}

}  // namespace sendense::cli
