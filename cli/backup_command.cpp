#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/audit_trail.h"
#include "cli/commands.h"
#include "cli/disk_argument.h"
#include "cli/progress_display.h"
#include "cli/usage_errors.h"
#include "engine/backup/backup_job.h"
#include "engine/catalog/record_json.h"
#include "engine/error.h"
#include "engine/jobs/backup_request.h"
#include "engine/jobs/backup_then_index.h"

namespace sendense::cli {
namespace {

struct BackupArgs {
  std::string vm;
  std::vector<std::string> disks;
  std::string nbd_tls;  // client certificates for nbds:// disks
  std::string bitmap;
  std::string changed_ranges;  // a file of ranges changed since the last point
  bool full = false;
  bool json = false;
  bool no_index = false;
  double timeout = 30;
};

// The backup's record as everywhere (BackupJson), with this run's
// reclaimed leftovers; "backup" and "disks" repeat "name" and "points" for
// scripts written against 0.1 (to be removed in the next release).
nlohmann::json ToJson(const Repository& repo, const BackupResult& r) {
  const auto record = repo.OpenCatalog()->FindBackup(r.vm, r.backup);
  if (!record) {
    throw Error(ErrorKind::kNotFound,
                "backup " + r.backup + " of VM " + r.vm + " left the catalog");
  }
  nlohmann::json j = BackupJson(*record);
  j["backup"] = j["name"];
  j["disks"] = j["points"];
  j["reclaimed"] = {{"interrupted_backups", r.reclaimed.interrupted_backups},
                    {"removed_files", r.reclaimed.removed_files},
                    {"removed_bytes", r.reclaimed.removed_bytes}};
  return j;
}

// `index_seconds` < 0: not indexed.
void PrintText(const BackupResult& r, double seconds, double index_seconds) {
  std::cout << std::fixed << std::setprecision(2) << "Backup " << r.backup
            << " of VM " << r.vm << " complete in " << seconds
            << " s: copied in " << r.seconds << " s";
  if (index_seconds >= 0) {
    std::cout << ", guest files indexed in " << index_seconds << " s";
  }
  std::cout << "\n";
  for (const auto& d : r.disks) {
    std::cout << "  " << d.disk << ": " << KindName(d.kind) << " (" << d.reason
              << "), read " << HumanBytes(d.bytes_read) << ", stored "
              << HumanBytes(d.bytes_stored) << ", " << d.seconds << " s\n";
  }
}

void Run(const GlobalOptions& global, const BackupArgs& args) {
  Repository repo(RequireRepo(global));
  BackupRequest request;
  request.vm = args.vm;
  request.bitmap = args.bitmap;
  if (args.disks.empty()) {
    // A configured VM (`vm add`): its disks, or its libvirt domain.
    const auto config = VmConfigs(repo.CatalogPath()).Find(args.vm);
    if (!config) {
      throw Error(ErrorKind::kInvalidArgument,
                  "no disk given (--disk NAME=URI) and no VM named '" +
                      args.vm + "' was added (vm add)");
    }
    request = BackupRequestFor(*config);
    if (!args.bitmap.empty()) {
      request.bitmap = args.bitmap;
    }
  }
  request.force_full = args.full;
  request.copy.timeout =
      std::chrono::milliseconds(static_cast<int64_t>(args.timeout * 1000));
  for (auto& d : ParseDiskArguments(args.disks, args.nbd_tls)) {
    request.disks.push_back(std::move(d));
  }
  if (!args.changed_ranges.empty()) {
    if (request.open_source) {
      throw Error(ErrorKind::kInvalidArgument,
                  "--changed-ranges is for VMs with NBD disks; libvirt VMs "
                  "track their changes with checkpoints");
    }
    std::vector<std::string> names;
    for (const auto& d : request.disks) {
      names.push_back(d.name);
    }
    request.changed = LoadChangedRanges(args.changed_ranges, names);
  }
  JobProgress progress;
  std::optional<CancelOnSignal> cancel_on_signal(std::in_place,
                                                 progress.cancel);
  const auto start = std::chrono::steady_clock::now();
  BackupOutcome outcome;
  {
    ProgressDisplay display(progress);
    // Once the point is stored, Ctrl-C no longer cancels (it ends indexing).
    outcome = BackUpThenIndex(repo, request, progress, !args.no_index,
                              [&] { cancel_on_signal.reset(); });
    progress.phase = JobPhase::kDone;
  }
  const BackupResult& result = outcome.backup;
  const IndexOutcome& index = outcome.index;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  const auto& rc = result.reclaimed;
  if (!rc.interrupted_backups.empty() || !rc.removed_files.empty()) {
    std::cerr << "Reclaimed " << rc.removed_files.size()
              << " leftover file(s) (" << HumanBytes(rc.removed_bytes)
              << ") and marked " << rc.interrupted_backups.size()
              << " backup(s) interrupted\n";
  }
  if (!index.error.empty()) {
    std::cerr << "sendense: the backup is complete, but indexing its guest "
                 "files failed: "
              << index.error << " (retry with `sendense index --retry`)\n";
  }
  if (args.json) {
    auto json = ToJson(repo, result);
    json["seconds"] = seconds;
    json["copy_seconds"] = result.seconds;
    if (index.ran) {
      json["index_seconds"] = index.seconds;
      json["filesystems"] = FilesystemsJson(index.filesystems);
      json["index_error"] = index.error;
    }
    std::cout << json.dump(2) << "\n";
  } else {
    PrintText(result, seconds, index.ran ? index.seconds : -1);
    if (index.ran && index.error.empty()) {
      PrintFilesystems(index.filesystems);
    }
  }
}

}  // namespace

void RegisterBackup(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<BackupArgs>();
  auto* cmd = app.add_subcommand("backup", "Back up the disks of one VM");
  cmd->add_option("--vm", args->vm, "VM name")->required();
  cmd->add_option("--disk", args->disks,
                  "DISK=NBD_URI (repeatable; default: the VM's stored "
                  "configuration, see `vm add`)");
  AddNbdTlsOption(*cmd, &args->nbd_tls)->needs("--disk");
  auto* bitmap = cmd->add_option(
      "--bitmap", args->bitmap,
      "QEMU dirty bitmap exported by the source, for incrementals");
  cmd->add_option("--changed-ranges", args->changed_ranges,
                  "A JSON file of the ranges changed since the last point "
                  "(vSphere's changedArea), for an incremental")
      ->excludes(bitmap);
  cmd->add_flag("--full", args->full, "Take a full backup");
  cmd->add_flag("--json", args->json, "Print the result as JSON");
  cmd->add_flag("--no-index", args->no_index,
                "Do not index the guest files now (`sendense index` later)");
  cmd->add_option("--timeout", args->timeout,
                  "Seconds to wait for the NBD source before failing")
      ->default_val(30)
      ->check(Between(1, 86400, "seconds"));
  cmd->callback([&global, args] {
    Audited(Repository(RequireRepo(global)), "backup", args->vm,
            [&] { Run(global, *args); });
  });
}

}  // namespace sendense::cli
