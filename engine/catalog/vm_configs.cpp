#include "engine/catalog/vm_configs.h"

#include <nlohmann/json.hpp>

#include "engine/catalog/catalog.h"
#include "engine/catalog/hosts.h"
#include "engine/catalog/names.h"
#include "engine/error.h"
#include "engine/io/nbd_uri.h"

namespace sendense {
namespace {

const std::string& Migrated(const std::string& path) {
  Catalog migrate(path, false);
  return path;
}

VmConfig Read(const sqlite::Statement& s) {
  VmConfig vm;
  vm.name = s.Text(0);
  const auto disks = nlohmann::json::parse(s.Text(1));
  for (const auto& [disk, where] : disks.items()) {
    // A URI, or {"uri", "tls_certificates"} for nbds:// with certificates.
    DiskSource d = DiskSource::At(
        disk, where.is_string() ? where.get<std::string>()
                                : where.at("uri").get<std::string>());
    if (where.is_object()) {
      d.tls_certificates = where.value("tls_certificates", "");
    }
    vm.disks.push_back(d);
  }
  vm.bitmap = s.Text(2);
  vm.schedule = Schedule::Parse(s.Text(3));
  vm.retention = retention::ParsePolicyJson(nlohmann::json::parse(s.Text(4)));
  if (!s.Text(5).empty()) {
    const auto j = nlohmann::json::parse(s.Text(5));
    LibvirtSource l;
    l.uri = j.value("uri", "");
    l.host = j.value("host", "");
    l.domain = j.at("domain");
    l.disks = j.value("disks", std::vector<std::string>{});
    l.exclude = j.value("exclude", std::vector<std::string>{});
    vm.libvirt = l;
  }
  vm.copy_to = s.Text(6);
  if (!s.IsNull(7)) {
    vm.immutable_days = s.Real(7);
  }
  return vm;
}

std::string SourceText(const VmConfig& vm) {
  if (!vm.libvirt) {
    return "";
  }
  nlohmann::json j{{"domain", vm.libvirt->domain},
                   {"disks", vm.libvirt->disks},
                   {"exclude", vm.libvirt->exclude}};
  if (vm.libvirt->host.empty()) {
    j["uri"] = vm.libvirt->uri;
  } else {
    j["host"] = vm.libvirt->host;  // its URI is the host's, whatever it is then
  }
  return j.dump();
}

// A host's VM as the host is now: its URI and NBD transport. Error
// kNotFound when the host is gone (it cannot be removed while it has VMs).
void ApplyHost(sqlite::Database& db, VmConfig& vm) {
  if (!vm.libvirt || vm.libvirt->host.empty()) {
    return;
  }
  const auto host = FindHost(db, vm.libvirt->host);
  if (!host) {
    throw Error(ErrorKind::kNotFound,
                "VM '" + vm.name + "': no host named '" + vm.libvirt->host +
                    "' (host list shows the hosts there are)");
  }
  vm.libvirt->uri = host->libvirt;
  vm.libvirt->host_max_jobs = host->max_jobs;
  vm.libvirt->nbd = NbdTransport{};
  if (host->Remote() || !host->nbd_address.empty()) {
    vm.libvirt->nbd =
        NbdTransport{host->NbdAddress(), host->nbd_tls,  host->insecure_nbd,
                     host->port_min,     host->port_max, host->ServerTls()};
  }
}

constexpr const char* kColumns =
    "SELECT name, disks, bitmap, schedule, retention, source, copy_to, "
    "immutable_days FROM vm_configs ";

void BindDays(sqlite::Statement& s, int index, const std::optional<double>& d) {
  if (d) {
    s.Bind(index, *d);
  } else {
    s.Bind(index, std::nullopt);
  }
}

}  // namespace

VmConfigs::VmConfigs(const std::string& catalog_path)
    : db_(Migrated(catalog_path), false) {}

namespace {

// The disks as stored (a JSON object of name to URI), after checking the
// whole configuration; Error kInvalidArgument naming what is wrong.
std::string CheckedDisks(const VmConfig& vm) {
  ValidateQualifiedName("VM name", vm.name);
  if (vm.libvirt) {
    if (!vm.disks.empty() || !vm.bitmap.empty()) {
      throw Error(ErrorKind::kInvalidArgument,
                  "a libvirt VM takes its disks and bitmaps from libvirt: "
                  "disk URIs and a bitmap do not apply");
    }
    if (!vm.libvirt->disks.empty() && !vm.libvirt->exclude.empty()) {
      throw Error(ErrorKind::kInvalidArgument,
                  "a VM's disks to back up and disks to exclude cannot "
                  "both be given");
    }
    if (vm.libvirt->domain.empty() ||
        (vm.libvirt->uri.empty() && vm.libvirt->host.empty())) {
      throw Error(ErrorKind::kInvalidArgument,
                  "a libvirt VM needs a connection URI and a domain");
    }
    return "{}";
  }
  if (vm.disks.empty()) {
    throw Error(ErrorKind::kInvalidArgument, "a VM needs at least one disk");
  }
  nlohmann::json disks = nlohmann::json::object();
  for (const auto& d : vm.disks) {
    ValidateName("disk name", d.name);
    RequireNbdUri(d.name, d.uri);
    RequireNbdTls(d.uri, d.tls_certificates);
    if (disks.contains(d.name)) {
      throw Error(ErrorKind::kInvalidArgument,
                  "disk '" + d.name + "' is given twice");
    }
    disks[d.name] =
        d.tls_certificates.empty()
            ? nlohmann::json(d.uri)
            : nlohmann::json{{"uri", d.uri},
                             {"tls_certificates", d.tls_certificates}};
  }
  return disks.dump();
}

}  // namespace

void VmConfigs::RequireHostOf(const VmConfig& vm) {
  if (vm.libvirt && !vm.libvirt->host.empty()) {
    Hosts::RequireIn(db_, vm.libvirt->host);
  }
}

void VmConfigs::RequireTenantRoomForVm(const std::string& vm) {
  const std::string tenant = TenantOf(vm);
  if (tenant.empty()) {
    return;
  }
  auto t = db_.Prepare("SELECT max_vms FROM tenants WHERE name = ?");
  t.Bind(1, tenant);
  if (!t.Step()) {
    throw Error(ErrorKind::kNotFound, "no tenant named '" + tenant + "'");
  }
  if (t.IsNull(0)) {
    return;
  }
  auto n = db_.Prepare(
      "SELECT count(*) FROM (SELECT name FROM vm_configs WHERE instr(name, "
      "'@') > 0 "
      "AND substr(name, instr(name, '@') + 1) = ?1 UNION SELECT name FROM vms "
      "WHERE instr(name, '@') > 0 AND substr(name, instr(name, '@') + 1) = "
      "?1)");
  n.Bind(1, tenant);
  n.Step();
  if (n.Int(0) >= t.Int(0)) {
    throw Error(ErrorKind::kNoSpace, "tenant '" + tenant +
                                         "' has reached its limit of " +
                                         std::to_string(t.Int(0)) + " VMs");
  }
}

void VmConfigs::Add(const VmConfig& vm) {
  const std::string disks = CheckedDisks(vm);
  sqlite::Transaction tx(db_);
  if (Find(vm.name)) {
    throw Error(ErrorKind::kAlreadyExists,
                "a VM named '" + vm.name + "' already exists");
  }
  RequireHostOf(vm);
  RequireTenantRoomForVm(vm.name);
  auto add = db_.Prepare(
      "INSERT INTO vm_configs (name, disks, bitmap, schedule, retention, "
      "source, copy_to, immutable_days) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  add.Bind(1, vm.name)
      .Bind(2, disks)
      .Bind(3, vm.bitmap)
      .Bind(4, vm.schedule.text())
      .Bind(5, retention::PolicyJson(vm.retention).dump())
      .Bind(6, SourceText(vm))
      .Bind(7, vm.copy_to);
  BindDays(add, 8, vm.immutable_days);
  add.Run();
  tx.Commit();
}

void VmConfigs::Update(const VmConfig& vm) {
  const std::string disks = CheckedDisks(vm);
  sqlite::Transaction tx(db_);
  if (!Find(vm.name)) {
    ThrowNoSuchVm(vm.name, Names());
  }
  RequireHostOf(vm);
  auto update = db_.Prepare(
      "UPDATE vm_configs SET disks = ?, bitmap = ?, schedule = ?, "
      "retention = ?, source = ?, copy_to = ?, immutable_days = ? "
      "WHERE name = ?");
  update.Bind(1, disks)
      .Bind(2, vm.bitmap)
      .Bind(3, vm.schedule.text())
      .Bind(4, retention::PolicyJson(vm.retention).dump())
      .Bind(5, SourceText(vm))
      .Bind(6, vm.copy_to);
  BindDays(update, 7, vm.immutable_days);
  update.Bind(8, vm.name).Run();
  tx.Commit();
}

void VmConfigs::Remove(const std::string& name) {
  sqlite::Transaction tx(db_);
  if (!Find(name)) {
    ThrowNoSuchVm(name, Names());
  }
  db_.Prepare("DELETE FROM vm_configs WHERE name = ?").Bind(1, name).Run();
  tx.Commit();
}

std::vector<VmConfig> VmConfigs::List() {
  auto s = db_.Prepare(std::string(kColumns) + "ORDER BY name");
  std::vector<VmConfig> out;
  while (s.Step()) {
    out.push_back(Read(s));
    ApplyHost(db_, out.back());
  }
  return out;
}

std::optional<VmConfig> VmConfigs::Find(const std::string& name) {
  auto s = db_.Prepare(std::string(kColumns) + "WHERE name = ?");
  s.Bind(1, name);
  if (!s.Step()) {
    return std::nullopt;
  }
  VmConfig vm = Read(s);
  ApplyHost(db_, vm);
  return vm;
}

std::vector<std::string> VmConfigs::Names() {
  std::vector<std::string> out;
  for (const auto& vm : List()) {
    out.push_back(vm.name);
  }
  return out;
}

}  // namespace sendense
