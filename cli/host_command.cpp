// host add|set|list|check|rm: the hypervisors whose libvirt VMs the
// appliance backs up, and how their backup data reaches it
// (docs/libvirt.md, "Remote hosts").

#include <iostream>

#include "cli/audit_trail.h"
#include "cli/commands.h"
#include "engine/catalog/hosts.h"
#include "engine/error.h"
#include "engine/libvirt/host_status.h"

namespace sendense::cli {
namespace {

struct HostArgs {
  std::string name;
  std::string libvirt;
  std::string nbd_address;
  std::string nbd_tls;
  bool insecure_nbd = false;
  bool secure_nbd = false;
  std::string nbd_ports;
  std::string server_tls;
  int64_t max_jobs = 0;
  bool no_max_jobs = false;
  bool json = false;
};

// "10809-10839" into the host's range; Error kInvalidArgument otherwise.
void ApplyPorts(const std::string& text, Host& host) {
  int lo = 0, hi = 0;
  char dash = 0;
  char extra = 0;
  if (std::sscanf(text.c_str(), "%d%c%d%c", &lo, &dash, &hi, &extra) != 3 ||
      dash != '-') {
    throw Error(
        ErrorKind::kInvalidArgument,
        "--nbd-ports '" + text + "' is not a range such as 10809-10839");
  }
  host.port_min = lo;
  host.port_max = hi;
}

// The transport options of add and set.
void AddTransportOptions(CLI::App& cmd, HostArgs& args) {
  cmd.add_option("--nbd-address", args.nbd_address,
                 "Where the appliance reaches the host's NBD servers "
                 "(default: the URI's host name)");
  auto* tls = cmd.add_option(
      "--nbd-tls", args.nbd_tls,
      "Client certificates for the host's NBD servers: a directory with "
      "ca-cert.pem, client-cert.pem and client-key.pem");
  cmd.add_flag("--insecure-nbd", args.insecure_nbd,
               "Read a remote host's NBD servers without TLS")
      ->excludes(tls);
  cmd.add_option("--nbd-ports", args.nbd_ports,
                 "Ports its backup jobs may listen on (default 10809-10839)");
  cmd.add_option("--server-tls", args.server_tls,
                 std::string("On the host, QEMU's server certificates "
                             "(qemu.conf backup_tls_x509_cert_dir; default ") +
                     kDefaultServerTls +
                     "), which qemu-nbd uses for shut-off domains");
}

Hosts Open(const GlobalOptions& global) {
  return Hosts(Repository(RequireRepo(global)).CatalogPath());
}

}  // namespace

void RegisterHost(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<HostArgs>();
  auto* host = app.add_subcommand(
      "host",
      "Hypervisors whose libvirt VMs are backed up (add, set, list, "
      "check, rm)");
  host->require_subcommand(1);

  auto* add = host->add_subcommand("add", "Add a host");
  add->add_option("NAME", args->name, "Host name")->required();
  add->add_option("--libvirt", args->libvirt,
                  "Its libvirt: qemu+ssh://root@HOST/system, "
                  "qemu+tls://HOST/system, qemu:///system")
      ->required();
  AddTransportOptions(*add, *args);
  add->add_option("--max-jobs", args->max_jobs,
                  "Backups at once on this host (default: no limit)");
  add->callback([&global, args, add] {
    Host h;
    h.name = args->name;
    h.libvirt = args->libvirt;
    h.nbd_address = args->nbd_address;
    h.nbd_tls =
        args->nbd_tls.empty()
            ? ""
            : std::filesystem::absolute(args->nbd_tls).lexically_normal();
    h.insecure_nbd = args->insecure_nbd;
    if (!args->nbd_ports.empty()) {
      ApplyPorts(args->nbd_ports, h);
    }
    h.server_tls = args->server_tls;
    if (add->count("--max-jobs") > 0) {
      h.max_jobs = args->max_jobs;
    }
    Audited(Repository(RequireRepo(global)), "host add", h.name,
            [&] { Open(global).Add(h); });
    std::cout << "Added host " << h.name << "\n";
  });

  auto* set = host->add_subcommand(
      "set", "Change a host: the options given replace what it had");
  set->add_option("NAME", args->name, "Host name")->required();
  set->add_option("--libvirt", args->libvirt, "Its libvirt URI");
  AddTransportOptions(*set, *args);
  auto* max_jobs = set->add_option("--max-jobs", args->max_jobs,
                                   "Backups at once on this host");
  set->add_flag("--no-max-jobs", args->no_max_jobs, "No limit")
      ->excludes(max_jobs);
  set->add_flag("--secure-nbd", args->secure_nbd,
                "TLS again (clears --insecure-nbd)");
  set->callback([&global, args, set] {
    auto hosts = Open(global);
    Host h = hosts.Require(args->name);
    if (set->count("--libvirt") > 0) {
      h.libvirt = args->libvirt;
    }
    if (set->count("--nbd-address") > 0) {
      h.nbd_address = args->nbd_address;
    }
    if (set->count("--nbd-tls") > 0) {
      h.nbd_tls = std::filesystem::absolute(args->nbd_tls).lexically_normal();
      h.insecure_nbd = false;
    }
    if (args->insecure_nbd) {
      h.insecure_nbd = true;
      h.nbd_tls.clear();
    }
    if (args->secure_nbd) {
      h.insecure_nbd = false;
    }
    if (!args->nbd_ports.empty()) {
      ApplyPorts(args->nbd_ports, h);
    }
    if (set->count("--server-tls") > 0) {
      h.server_tls = args->server_tls;
    }
    if (set->count("--max-jobs") > 0) {
      h.max_jobs = args->max_jobs;
    }
    if (args->no_max_jobs) {
      h.max_jobs.reset();
    }
    Audited(Repository(RequireRepo(global)), "host set", h.name,
            [&] { hosts.Update(h); });
    std::cout << "Changed host " << h.name << "\n";
  });

  auto* list = host->add_subcommand(
      "list", "Hosts: reachable or not, libvirt and QEMU versions, VMs");
  list->add_flag("--json", args->json, "One JSON document");
  list->callback([&global, args] {
    auto hosts = Open(global);
    nlohmann::json out = nlohmann::json::array();
    for (const auto& h : hosts.List()) {
      const auto status = libvirt::ProbeHost(h);
      const auto vms = hosts.VmsOn(h.name);
      out.push_back(libvirt::HostStatusJson(h, status, vms));
      if (args->json) {
        continue;
      }
      std::cout << h.name << "  " << h.libvirt << "  "
                << (status.reachable ? "libvirt " + status.libvirt_version +
                                           ", QEMU " + status.qemu_version
                                     : "unreachable: " + status.error)
                << "\n  NBD: "
                << (!h.Remote() && h.nbd_address.empty()
                        ? "unix socket (this machine)"
                        : h.NbdAddress() + " ports " +
                              std::to_string(h.port_min) + "-" +
                              std::to_string(h.port_max) +
                              (h.insecure_nbd ? ", without TLS"
                                              : ", TLS with " + h.nbd_tls))
                << (h.max_jobs ? ", at most " + std::to_string(*h.max_jobs) +
                                     " backup(s) at once"
                               : "")
                << "\n  VMs: " << (vms.empty() ? "none" : "");
      for (size_t i = 0; i < vms.size(); ++i) {
        std::cout << (i ? ", " : "") << vms[i];
      }
      std::cout << "\n";
    }
    if (args->json) {
      std::cout << nlohmann::json{{"hosts", out}}.dump(2) << "\n";
    } else if (out.empty()) {
      std::cout << "No hosts.\n";
    }
  });

  auto* check = host->add_subcommand(
      "check", "What keeps a host's VMs from being backed up, if anything");
  check->add_option("NAME", args->name, "Host name")->required();
  check->callback([&global, args] {
    const Host h = Open(global).Require(args->name);
    const auto problems = libvirt::HostProblems(h, libvirt::ProbeHost(h));
    for (const auto& p : problems) {
      std::cout << p << "\n";
    }
    if (!problems.empty()) {
      throw Error(ErrorKind::kIo, "host " + h.name + " is not ready: " +
                                      std::to_string(problems.size()) +
                                      " problem(s) above");
    }
    std::cout << "Host " << h.name << " is ready"
              << (h.Remote() && h.insecure_nbd
                      ? " (its backup data crosses the network without TLS: "
                        "--insecure-nbd)"
                      : "")
              << ".\n";
    for (const auto& a : libvirt::HostAdvice(h)) {
      std::cout << "Advice: " << a << "\n";
    }
  });

  auto* rm = host->add_subcommand("rm", "Remove a host (it must have no VMs)");
  rm->add_option("NAME", args->name, "Host name")->required();
  rm->callback([&global, args] {
    Audited(Repository(RequireRepo(global)), "host rm", args->name,
            [&] { Open(global).Remove(args->name); });
    std::cout << "Removed host " << args->name << "\n";
  });
}

}  // namespace sendense::cli
