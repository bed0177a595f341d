#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "engine/catalog/accounts.h"
#include "engine/catalog/guest_index.h"
#include "engine/catalog/names.h"
#include "engine/error.h"
#include "engine/io/file.h"
#include "engine/repo/known_vms.h"
#include "engine/repo/repository.h"
#include "engine/samba/samba_config.h"
#include "fs/mount.h"

namespace sendense::cli {
namespace {

// The guest filesystems of each VM's newest complete, indexed backup.
// Of `tenant` only when given, each VM by its name within the tenant (the
// tenant's tree).
std::vector<samba::ShareSource> Sources(const Repository& repo,
                                        const std::string& only_vm,
                                        const std::string& tenant) {
  auto catalog = repo.OpenCatalog();
  GuestIndex index(repo.CatalogPath());
  std::vector<std::string> vms;
  if (!only_vm.empty()) {
    RequireKnownVm(repo, only_vm);
    vms.push_back(only_vm);
  } else {
    vms = catalog->VmNames();
  }
  std::vector<samba::ShareSource> sources;
  for (const auto& vm : vms) {
    if (!tenant.empty() && TenantOf(vm) != tenant) {
      continue;
    }
    const auto backups = catalog->Backups(vm);
    for (auto b = backups.rbegin(); b != backups.rend(); ++b) {
      if (b->state != BackupState::kComplete || !index.LastRun(b->id)) {
        continue;
      }
      for (const auto& fs : index.Filesystems(b->id)) {
        if (fs.state == "indexed") {
          sources.push_back(
              tenant.empty()
                  ? samba::ShareSource{vm, fs.name}
                  : samba::ShareSource{LocalName(vm), fs.name, tenant});
        }
      }
      break;
    }
  }
  if (sources.empty()) {
    throw Error(ErrorKind::kNotFound,
                only_vm.empty()
                    ? "no backup has indexed guest filesystems to share "
                      "(see `sendense index`)"
                    : "VM '" + only_vm +
                          "' has no backup with indexed guest filesystems "
                          "(see `sendense index`)");
  }
  return sources;
}

}  // namespace

void RegisterSambaConfig(CLI::App& app, GlobalOptions& global) {
  struct Args {
    std::string mount, vm, output, valid_users, tenant;
    bool force = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "samba-config",
      "Write an smb.conf include sharing each guest filesystem, with every "
      "point as a Windows previous version");
  cmd->add_option("--mount", args->mount, "Where the tree is mounted")
      ->required();
  cmd->add_flag("--force", args->force,
                "Write the shares though no tree is mounted at --mount yet");
  cmd->add_option("--vm", args->vm, "Only this VM's filesystems");
  cmd->add_option("--tenant", args->tenant,
                  "Only this tenant's VMs, for a tree mounted with `mount "
                  "--tenant` (needs --valid-users)");
  cmd->add_option("--output", args->output,
                  "Write it to this file (default: stdout)");
  cmd->add_option("--valid-users", args->valid_users,
                  "Samba users or @groups allowed in (default: any user in "
                  "Samba's database; never guests)");
  cmd->callback([&global, args] {
    Repository repo(RequireRepo(global));
    samba::SambaConfigOptions options;
    options.mount = std::filesystem::absolute(args->mount).lexically_normal();
    if (options.mount.size() > 1 && options.mount.back() == '/') {
      options.mount.pop_back();
    }
    if (!args->force && !sendense::fs::IsTreeMounted(options.mount)) {
      throw Error(ErrorKind::kInvalidArgument,
                  "no Sendense tree is mounted at " + options.mount +
                      ": the shares would show an empty folder; mount it "
                      "first (`" +
                      repo.Command("mount " + options.mount) +
                      "` or serve --mount), or pass --force");
    }
    if (!args->tenant.empty()) {
      Accounts(repo.CatalogPath()).RequireTenant(args->tenant);
      if (args->valid_users.empty()) {
        throw Error(ErrorKind::kInvalidArgument,
                    "a tenant's shares need --valid-users: the Samba users "
                    "of that customer");
      }
      if (!args->vm.empty() && TenantOf(args->vm) != args->tenant) {
        throw Error(ErrorKind::kInvalidArgument,
                    "--vm " + args->vm + " is not tenant " + args->tenant +
                        "'s (its VMs are NAME@" + args->tenant + ")");
      }
    }
    options.valid_users = args->valid_users;
    options.repository = std::filesystem::absolute(repo.path());
    const std::string text =
        samba::SambaConfig(Sources(repo, args->vm, args->tenant), options);
    if (args->output.empty()) {
      std::cout << text;
      return;
    }
    WriteFileAtomically(args->output, text);
    std::cout << "Wrote " << args->output
              << "; include it from smb.conf and run `smbcontrol smbd "
                 "reload-config`\n";
  });
}

}  // namespace sendense::cli
