#include <iostream>
#include <memory>

#include "cli/audit_trail.h"
#include "cli/commands.h"
#include "cli/progress_display.h"
#include "engine/error.h"
#include "engine/repo/repository.h"
#include "engine/restore/restore.h"
#include "engine/restore/vm_restore.h"

namespace sendense::cli {

namespace {

struct RestoreArgs {
  restore::RestoreRequest request;
  std::string define;  // a libvirt VM back whole, as this new domain
  bool json = false;
};

void RunRestore(const Repository& repo, const RestoreArgs& args) {
  JobProgress progress;
  if (!args.define.empty()) {
    if (!args.request.disk.empty()) {
      throw Error(ErrorKind::kInvalidArgument,
                  "--define restores every disk: leave out --disk");
    }
    restore::VmRestoreRequest vm{args.request.vm, args.request.point,
                                 args.define, args.request.target,
                                 args.request.force};
    restore::VmRestoreReport report;
    {
      CancelOnSignal cancel_on_signal(progress.cancel);
      ProgressDisplay display(progress);
      report = restore::RestoreVm(repo, vm, progress);
    }
    if (args.json) {
      std::cout << restore::VmRestoreReportJson(report).dump(2) << "\n";
      return;
    }
    for (const auto& d : report.disks) {
      std::cout << "Restored disk " << d.disk << " to " << d.target << "\n";
    }
    std::cout << "Defined domain " << report.domain << " at " << report.uri
              << " from " << report.vm << "/" << report.backup
              << " (not started: `virsh start " << report.domain << "`)\n";
    return;
  }
  restore::RestoreReport report;
  {
    CancelOnSignal cancel_on_signal(progress.cancel);
    ProgressDisplay display(progress);
    report = restore::Restore(repo, args.request, progress);
  }
  if (args.json) {
    std::cout << restore::RestoreReportJson(report).dump(2) << "\n";
    return;
  }
  std::cout << "Restored disk " << report.disk << " of " << report.vm << "/"
            << report.backup << " to " << report.target << " ("
            << report.target_kind
            << "): " << HumanBytes(static_cast<double>(report.data_bytes))
            << " of data, "
            << HumanBytes(static_cast<double>(report.zero_bytes))
            << " of zeros, in " << static_cast<int>(report.seconds * 10) / 10.0
            << " s\n";
}

}  // namespace

void RegisterRestore(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<RestoreArgs>();
  auto* cmd = app.add_subcommand(
      "restore",
      "Write one disk of a point to a file (sparse raw; .qcow2 for a "
      "standalone QCOW2), a block device or a writable NBD server");
  AddPointOptions(*cmd, args->request.vm, args->request.point,
                  args->request.disk);
  cmd->add_option("--to", args->request.target,
                  "FILE, FILE.qcow2, /dev/DEVICE or an NBD URI "
                  "(nbd://HOST:PORT/NAME, nbd+unix:///NAME?socket=PATH)")
      ->required();
  cmd->add_flag("--force", args->request.force,
                "Replace an existing file or write over a device");
  cmd->add_option("--define", args->define,
                  "A libvirt VM whole: every disk into the folder --to as "
                  "NAME-DISK.qcow2, then its recorded domain XML defined as "
                  "NAME at the VM's libvirt (a VM of another host: --to is "
                  "a folder there, the disks uploaded to it)");
  cmd->add_flag("--json", args->json, "Print the result as JSON");
  cmd->callback([&global, args] {
    Repository repo(RequireRepo(global));
    Audited(repo, "restore", args->request.vm,
            [&] { RunRestore(repo, *args); });
  });
}

}  // namespace sendense::cli
