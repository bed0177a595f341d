#include <iostream>

#include "cli/commands.h"
#include "engine/catalog/targets.h"
#include "engine/copy/s3_verify.h"
#include "engine/error.h"
#include "engine/repo/repository.h"
#include "engine/verify/verify.h"

namespace sendense::cli {
namespace {

struct VerifyArgs {
  verify::VerifyRequest request;
  std::string target;
  bool read_data = false;
  bool json = false;
};

// verify --target: what the bucket holds against its manifests.
void VerifyTarget(const Repository& repo, const VerifyArgs& args) {
  const auto report =
      copy::VerifyTarget(Targets(repo.CatalogPath()).Require(args.target),
                         args.request.vm, args.read_data);
  if (args.json) {
    std::cout << copy::TargetVerifyReportJson(report).dump(2) << "\n";
  } else {
    for (const auto& p : report.problems) {
      std::cout << p.vm << "  " << p.backup << "  " << p.object << " " << p.what
                << "\n";
    }
    std::cout << report.backups << " backup(s), " << report.objects
              << " object(s) of target " << report.target << ", read "
              << HumanBytes(static_cast<double>(report.bytes_read)) << " in "
              << static_cast<int>(report.seconds * 10) / 10.0 << " s\n";
  }
  if (!report.problems.empty()) {
    throw Error(ErrorKind::kCorrupt,
                std::to_string(report.problems.size()) +
                    " object(s) of target " + report.target +
                    " are missing or differ from what was copied: copy "
                    "--to it again copies only what is new, so take a new "
                    "full backup and copy it");
  }
}

void PrintReport(const verify::VerifyReport& r) {
  for (const auto& p : r.points) {
    std::cout << p.vm << "  " << p.backup << "  " << p.disk << "  "
              << StateName(p.state) << "\n";
    for (const auto& pr : p.problems) {
      if (pr["length"].get<uint64_t>() == 0) {
        std::cout << "    " << pr["what"].get<std::string>() << "\n";
      } else {
        std::cout << "    bytes " << pr["offset"].get<uint64_t>() << "-"
                  << pr["offset"].get<uint64_t>() +
                         pr["length"].get<uint64_t>() - 1
                  << ": " << pr["what"].get<std::string>() << "\n";
      }
    }
  }
  std::cout << r.points.size() << " point(s), read "
            << HumanBytes(static_cast<double>(r.bytes_read)) << " in "
            << static_cast<int>(r.seconds * 10) / 10.0 << " s\n";
}

}  // namespace

void RegisterVerify(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<VerifyArgs>();
  auto* cmd = app.add_subcommand(
      "verify",
      "Check that every point still reads as it was backed up (structure "
      "and the digest of every stored cluster)");
  cmd->add_option("--vm", args->request.vm, "Only this VM");
  cmd->add_option("--point", args->request.point,
                  "Only this point (with --vm)");
  cmd->add_option("--target", args->target,
                  "Check an S3 target's objects against its manifests "
                  "instead (sizes and ETags)");
  cmd->add_flag("--read-data", args->read_data,
                "With --target: download every point and check each "
                "cluster against its digests");
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->callback([&global, args] {
    Repository repo(RequireRepo(global));
    if (!args->target.empty()) {
      VerifyTarget(repo, *args);
      return;
    }
    const auto report = verify::Verify(repo, args->request);
    if (args->json) {
      std::cout << verify::VerifyReportJson(report).dump(2) << "\n";
    } else {
      PrintReport(report);
    }
    if (const size_t bad = report.damaged()) {
      throw Error(ErrorKind::kCorrupt,
                  std::to_string(bad) +
                      " point(s) are damaged or built on a damaged point: "
                      "their data cannot be trusted; take a new full backup "
                      "(backup --full) and then forget them");
    }
  });
}

}  // namespace sendense::cli
