#include "engine/libvirt/host_status.h"

#include <cstdio>

#include "engine/error.h"
#include "engine/io/nbd_uri.h"
#include "engine/libvirt/connection.h"
#include "engine/libvirt/host_shell.h"

namespace sendense::libvirt {
namespace {

// "9.0.0" as a number to compare: 9000000.
long VersionNumber(const std::string& v) {
  unsigned major = 0, minor = 0, micro = 0;
  std::sscanf(v.c_str(), "%u.%u.%u", &major, &minor, &micro);
  return major * 1000000L + minor * 1000L + micro;
}

// Whether the host's server certificates are used (TLS) and can be looked
// at (a shell on the host through qemu+ssh://).
bool ShellReachesTls(const Host& host) {
  return host.Remote() && !host.insecure_nbd &&
         host.libvirt.rfind("qemu+ssh://", 0) == 0;
}

}  // namespace

HostStatus ProbeHost(const Host& host) {
  HostStatus s;
  try {
    Connection c(host.libvirt);
    s.libvirt_version = c.LibvirtVersion();
    s.qemu_version = c.HypervisorVersion();
    s.reachable = true;
  } catch (const Error& e) {
    s.error = e.what();
  }
  return s;
}

std::vector<std::string> HostProblems(const Host& host,
                                      const HostStatus& status) {
  std::vector<std::string> out;
  if (!status.reachable) {
    out.push_back(status.error);
    return out;
  }
  if (VersionNumber(status.libvirt_version) < 6000000) {
    out.push_back("libvirt " + status.libvirt_version + " on " + host.name +
                  " has no backup jobs: 6.0 or newer is needed");
  }
  if (VersionNumber(status.qemu_version) < 4002000) {
    out.push_back("QEMU " + status.qemu_version + " on " + host.name +
                  " cannot serve backups over NBD with dirty bitmaps: 4.2 "
                  "or newer is needed");
  }
  if (!host.nbd_tls.empty()) {
    try {
      RequireTlsDirectory(host.nbd_tls);
    } catch (const Error& e) {
      out.push_back(e.what());
    }
  }
  // Shut-off domains are served by qemu-nbd on the host, with its
  // server certificates.
  if (ShellReachesTls(host)) {
    const std::string dir = host.ServerTls();
    if (const auto missing =
            HostShell(host.libvirt)
                .Run({"ls", dir + "/ca-cert.pem", dir + "/server-cert.pem",
                      dir + "/server-key.pem"})) {
      out.push_back("on " + host.name +
                    ", qemu-nbd (shut-off domains) has "
                    "no server certificates in " +
                    dir + ": " + *missing);
    }
  }
  return out;
}

std::vector<std::string> HostAdvice(const Host& host) {
  std::vector<std::string> out;
  const std::string file = host.ServerTls() + "/dh-params.pem";
  if (ShellReachesTls(host) &&
      HostShell(host.libvirt).Run({"test", "-s", file})) {
    out.push_back("on " + host.name + ", QEMU makes Diffie-Hellman " +
                  "parameters for each backup job (0.1-1 s) without " + file +
                  ": openssl genpkey -genparam -algorithm DH -pkeyopt "
                  "group:ffdhe2048 -out " +
                  file);
  }
  return out;
}

nlohmann::json HostStatusJson(const Host& host,
                              const HostStatus& status,
                              const std::vector<std::string>& vms) {
  auto j = HostJson(host);
  j["reachable"] = status.reachable;
  j["error"] = status.error.empty() ? nlohmann::json(nullptr)
                                    : nlohmann::json(status.error);
  j["libvirt_version"] = status.libvirt_version.empty()
                             ? nlohmann::json(nullptr)
                             : nlohmann::json(status.libvirt_version);
  j["qemu_version"] = status.qemu_version.empty()
                          ? nlohmann::json(nullptr)
                          : nlohmann::json(status.qemu_version);
  j["vms"] = vms;
  return j;
}

}  // namespace sendense::libvirt
