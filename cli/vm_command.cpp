#include <iostream>

#include "cli/audit_trail.h"
#include "cli/commands.h"
#include "cli/disk_argument.h"
#include "cli/usage_errors.h"
#include "engine/catalog/hosts.h"
#include "engine/catalog/names.h"
#include "engine/catalog/record_json.h"
#include "engine/catalog/vm_configs.h"
#include "engine/error.h"
#include "engine/libvirt/libvirt_source.h"
#include "engine/repo/repository.h"
#include "engine/repo/vm_removal.h"

namespace sendense::cli {
namespace {

struct VmArgs {
  std::string name;
  std::string tenant;
  std::vector<std::string> disks;
  std::string nbd_tls;  // client certificates for nbds:// disks
  std::string bitmap;
  std::string schedule;
  bool no_schedule = false;
  retention::Policy policy;
  bool no_retention = false;
  bool json = false;
  std::string libvirt_uri;
  std::string host;  // a registered host (host add)
  std::string domain;
  std::vector<std::string> libvirt_disks;
  std::vector<std::string> exclude;
  std::string copy_to;
  double immutable_days = 0;
};

// --copy-to and --immutable-days of `vm add` and `vm set`.
void AddCopyOptions(CLI::App& cmd, VmArgs& args) {
  cmd.add_option("--copy-to", args.copy_to,
                 "A repository or a target (target add) `serve` copies "
                 "each new backup to ('' for none)");
  cmd.add_option("--immutable-days", args.immutable_days,
                 "Its points stay immutable this many days (0: the "
                 "repository's setting)")
      ->check(Between(0, 36500, "days"));
}

void ApplyCopyOptions(const CLI::App& cmd, const VmArgs& args, VmConfig& vm) {
  if (cmd.count("--copy-to") > 0) {
    vm.copy_to = args.copy_to;
  }
  if (cmd.count("--immutable-days") > 0) {
    vm.immutable_days = args.immutable_days > 0
                            ? std::optional(args.immutable_days)
                            : std::nullopt;
  }
}

constexpr const char* kDefaultLibvirt = "qemu:///system";

// One line per domain: its state and each disk with what a backup of it
// can be.
void PrintDomains(const std::vector<libvirt::DiscoveredDomain>& domains) {
  for (const auto& d : domains) {
    std::cout << d.name << "  " << (d.running ? "running" : "shut off") << "\n";
    for (const auto& disk : d.disks) {
      const std::string why = disk.Unsupported();
      std::cout << "  " << disk.target << "  "
                << (disk.source.empty() ? "-" : disk.source) << "  "
                << (!why.empty()         ? "not backed up: " + why
                    : disk.Incremental() ? "incremental (checkpoints)"
                                         : "full every time (" + disk.format +
                                               ": no persistent bitmaps)")
                << "\n";
    }
  }
  if (domains.empty()) {
    std::cout << "No domains.\n";
  }
}

nlohmann::json DomainsJson(
    const std::vector<libvirt::DiscoveredDomain>& domains) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& d : domains) {
    nlohmann::json disks = nlohmann::json::array();
    for (const auto& disk : d.disks) {
      const std::string why = disk.Unsupported();
      disks.push_back({{"target", disk.target},
                       {"source", disk.source},
                       {"format", disk.format},
                       {"backup", !why.empty()         ? "no"
                                  : disk.Incremental() ? "incremental"
                                                       : "full"},
                       {"reason", why}});
    }
    out.push_back({{"name", d.name}, {"running", d.running}, {"disks", disks}});
  }
  return {{"domains", out}};
}

// The VM configurations; `write`: for a change, which also reclaims what
// dead backups left, and fails at once on a full filesystem.
VmConfigs Open(const GlobalOptions& global, bool write) {
  Repository repo(RequireRepo(global));
  if (write) {
    repo.OpenCatalogForWriting();
  }
  return VmConfigs(repo.CatalogPath());
}

}  // namespace

void RegisterVm(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<VmArgs>();
  auto* vm = app.add_subcommand(
      "vm", "VMs that `serve` backs up (add, set, list, rm, discover)");
  vm->require_subcommand(1);

  auto* add = vm->add_subcommand("add", "Add a VM");
  add->add_option("NAME", args->name, "VM name")->required();
  add->add_option("--tenant", args->tenant,
                  "Its tenant: the VM is NAME@TENANT from then on");
  auto* disk =
      add->add_option("--disk", args->disks, "DISK=NBD_URI (repeatable)");
  AddNbdTlsOption(*add, &args->nbd_tls)->needs(disk);
  auto* libvirt =
      add->add_option("--libvirt", args->libvirt_uri,
                      "A libvirt domain, at this URI (default qemu:///system)")
          ->expected(0, 1)
          ->excludes(disk);
  auto* host = add->add_option("--host", args->host,
                               "A libvirt domain on this host (host add)")
                   ->excludes(disk)
                   ->excludes(libvirt);
  auto* domain = add->add_option("--domain", args->domain,
                                 "The libvirt domain (default: the VM's name)");
  auto* only = add->add_option("--disks", args->libvirt_disks,
                               "Only these disks of the domain (vda,vdb)")
                   ->delimiter(',');
  auto* exclude = add->add_option("--exclude", args->exclude,
                                  "All disks of the domain but these (vdc)")
                      ->delimiter(',')
                      ->excludes(only);
  add->add_option("--bitmap", args->bitmap,
                  "QEMU dirty bitmap for incrementals");
  add->add_option("--schedule", args->schedule,
                  "hourly, daily@HH:MM (UTC), every@Nm or every@Nh");
  AddKeepOptions(*add, args->policy);
  AddCopyOptions(*add, *args);
  add->callback([&global, args, libvirt, host, domain, only, exclude, add] {
    VmConfig config;
    config.name = Qualified(args->name, args->tenant);
    const bool on_libvirt = libvirt->count() + host->count() > 0;
    if (!on_libvirt && domain->count() + only->count() + exclude->count() > 0) {
      throw Error(ErrorKind::kInvalidArgument,
                  "--domain, --disks and --exclude are for libvirt VMs "
                  "(--libvirt or --host)");
    }
    if (on_libvirt) {
      LibvirtSource source;
      source.uri =
          args->libvirt_uri.empty() ? kDefaultLibvirt : args->libvirt_uri;
      if (host->count() > 0) {
        source.host = args->host;
        source.uri = Hosts(Repository(RequireRepo(global)).CatalogPath())
                         .Require(args->host)
                         .libvirt;
      }
      source.domain =
          args->domain.empty() ? LocalName(args->name) : args->domain;
      source.disks = args->libvirt_disks;
      source.exclude = args->exclude;
      libvirt::RequireDomain(source.uri, source.domain);
      config.libvirt = source;
    } else if (args->disks.empty()) {
      throw Error(ErrorKind::kInvalidArgument,
                  "give the VM's disks (--disk NAME=URI) or its libvirt "
                  "domain (--libvirt or --host)");
    }
    config.disks = ParseDiskArguments(args->disks, args->nbd_tls);
    config.bitmap = args->bitmap;
    config.schedule = Schedule::Parse(args->schedule);
    config.retention = args->policy;
    ApplyCopyOptions(*add, *args, config);
    Audited(Repository(RequireRepo(global)), "vm add", config.name,
            [&] { Open(global, true).Add(config); });
    std::cout << "Added VM " << config.name << "\n";
  });

  auto* set = vm->add_subcommand(
      "set", "Change a VM: the options given replace what it had");
  set->add_option("NAME", args->name, "VM name")->required();
  set->add_option("--disk", args->disks,
                  "DISK=NBD_URI (repeatable; replaces every disk)");
  auto* set_tls = AddNbdTlsOption(*set, &args->nbd_tls);
  auto* bitmap = set->add_option("--bitmap", args->bitmap,
                                 "QEMU dirty bitmap for incrementals ('' for "
                                 "none: full backups)");
  auto* schedule =
      set->add_option("--schedule", args->schedule,
                      "hourly, daily@HH:MM (UTC), every@Nm or every@Nh");
  set->add_flag("--no-schedule", args->no_schedule, "Back up only when asked")
      ->excludes(schedule);
  AddKeepOptions(*set, args->policy);
  set->add_flag("--no-retention", args->no_retention,
                "Keep every point (no policy; prune only when asked)");
  AddCopyOptions(*set, *args);
  auto* set_uri =
      set->add_option("--libvirt", args->libvirt_uri, "A libvirt VM's URI");
  auto* set_host =
      set->add_option("--host", args->host, "A libvirt VM's host (host add)")
          ->excludes(set_uri);
  auto* set_domain =
      set->add_option("--domain", args->domain, "A libvirt VM's domain");
  auto* set_only =
      set->add_option("--disks", args->libvirt_disks,
                      "Only these disks of the domain (vda,vdb); '' for all")
          ->delimiter(',');
  auto* set_exclude =
      set->add_option("--exclude", args->exclude,
                      "All disks of the domain but these (vdc); '' for none")
          ->delimiter(',')
          ->excludes(set_only);
  set->callback([&global, args, bitmap, schedule, set_uri, set_domain, set_only,
                 set_exclude, set_tls, set_host, set] {
    auto vms = Open(global, true);
    auto config = vms.Find(args->name);
    if (!config) {
      ThrowNoSuchVm(args->name, vms.Names());
    }
    if (!args->disks.empty()) {
      config->disks = ParseDiskArguments(args->disks, args->nbd_tls);
    } else if (set_tls->count() > 0) {  // the same disks, other certificates
      std::vector<std::string> same;
      for (const auto& d : config->disks) {
        same.push_back(d.name + "=" + d.uri);
      }
      config->disks = ParseDiskArguments(same, args->nbd_tls);
    }
    const bool libvirt_change = set_uri->count() + set_host->count() +
                                    set_domain->count() + set_only->count() +
                                    set_exclude->count() >
                                0;
    if (libvirt_change && !config->libvirt) {
      throw Error(ErrorKind::kInvalidArgument,
                  "VM '" + args->name +
                      "' is not a libvirt VM: --libvirt, --domain, --disks "
                      "and --exclude change libvirt VMs");
    }
    if (libvirt_change) {
      const auto names = [](std::vector<std::string> v) {
        std::erase(v, "");  // '' clears the list
        return v;
      };
      if (set_uri->count() > 0) {
        config->libvirt->uri = args->libvirt_uri;
        config->libvirt->host.clear();
      }
      if (set_host->count() > 0) {
        config->libvirt->host = args->host;  // its URI is the host's
      }
      if (set_domain->count() > 0) {
        config->libvirt->domain = args->domain;
      }
      if (set_only->count() > 0) {
        config->libvirt->disks = names(args->libvirt_disks);
        config->libvirt->exclude.clear();
      }
      if (set_exclude->count() > 0) {
        config->libvirt->exclude = names(args->exclude);
        config->libvirt->disks.clear();
      }
    }
    if (bitmap->count() > 0) {
      config->bitmap = args->bitmap;
    }
    if (schedule->count() > 0) {
      config->schedule = Schedule::Parse(args->schedule);
    }
    if (args->no_schedule) {
      config->schedule = Schedule();
    }
    if (args->no_retention && !args->policy.empty()) {
      throw Error(ErrorKind::kInvalidArgument,
                  "--no-retention and --keep-* rules contradict each other");
    }
    if (!args->policy.empty() || args->no_retention) {
      config->retention = args->policy;  // the rules given replace the old
    }
    ApplyCopyOptions(*set, *args, *config);
    vms.Update(*config);
    std::cout << "Changed VM " << config->name << "\n";
  });

  auto* list = vm->add_subcommand("list", "List VMs");
  list->add_flag("--json", args->json, "Print JSON");
  list->callback([&global, args] {
    nlohmann::json out = nlohmann::json::array();
    const auto vms = Open(global, false).List();
    for (const auto& v : vms) {
      out.push_back(VmJson(v));
      if (!args->json) {
        std::cout << v.name << "  "
                  << (v.schedule.manual() ? "no schedule" : v.schedule.text())
                  << "  "
                  << (v.libvirt          ? "checkpoints"
                      : v.bitmap.empty() ? "no bitmap (full backups)"
                                         : "bitmap " + v.bitmap)
                  << "  " << retention::DescribePolicy(v.retention);
        for (const auto& d : v.disks) {
          std::cout << "  " << d.name << "=" << d.uri;
        }
        if (v.libvirt) {
          std::cout << "  libvirt " << v.libvirt->uri << " domain "
                    << v.libvirt->domain;
        }
        std::cout << "\n";
      }
    }
    if (args->json) {
      std::cout << nlohmann::json{{"vms", out}}.dump(2) << "\n";
    } else if (vms.empty()) {
      std::cout << "No VMs.\n";
    }
  });

  auto* discover = vm->add_subcommand(
      "discover", "List the domains of a libvirt, with their disks");
  auto* discover_uri = discover->add_option(
      "--libvirt", args->libvirt_uri, "libvirt URI (default qemu:///system)");
  discover->add_option("--host", args->host, "A host's (host add)")
      ->excludes(discover_uri);
  discover->add_flag("--json", args->json, "Print JSON");
  discover->callback([&global, args] {
    std::string uri =
        args->libvirt_uri.empty() ? kDefaultLibvirt : args->libvirt_uri;
    if (!args->host.empty()) {
      uri = Hosts(Repository(RequireRepo(global)).CatalogPath())
                .Require(args->host)
                .libvirt;
    }
    const auto domains = libvirt::Discover(uri);
    if (args->json) {
      std::cout << DomainsJson(domains).dump(2) << "\n";
    } else {
      PrintDomains(domains);
    }
  });

  auto* rm = vm->add_subcommand(
      "rm",
      "Remove a VM: its configuration and failed records (complete backups "
      "stay until forget or prune)");
  rm->add_option("NAME", args->name, "VM name")->required();
  rm->add_flag("--json", args->json, "Print what was removed as JSON");
  rm->callback([&global, args] {
    const Repository repo(RequireRepo(global));
    VmRemoval r;
    Audited(repo, "vm rm", args->name, [&] { r = RemoveVm(repo, args->name); });
    if (args->json) {
      std::cout << VmRemovalJson(r).dump(2) << "\n";
      return;
    }
    std::cout << "Removed VM " << r.vm;
    if (!r.records.empty()) {
      std::cout << " (" << r.records.size()
                << " failed or interrupted backup record(s))";
    }
    std::cout << "\n";
    if (r.points_kept > 0) {
      std::cout << "Its " << r.points_kept << " complete backup(s) stay: `"
                << repo.Command("forget --vm " + r.vm + " POINT...")
                << "` removes them\n";
    }
  });
}

}  // namespace sendense::cli
