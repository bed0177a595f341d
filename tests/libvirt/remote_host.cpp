#include "tests/libvirt/remote_host.h"

#include <unistd.h>

#include <filesystem>

#include "tests/support/test_env.h"

namespace sendense::test {
namespace {

constexpr const char* kUser = RemoteHost::kUser;

std::string Home() {
  std::string home =
      RunOrFail(std::string("getent passwd ") + kUser + " | cut -d: -f6");
  while (!home.empty() && home.back() == '\n') {
    home.pop_back();
  }
  return home;
}

bool UserHasProcesses() {
  return RunCommand(std::string("pgrep -u ") + kUser + " >/dev/null").status ==
         0;
}

}  // namespace

RemoteHost::RemoteHost(const std::string& dir) {
  why_not_ = Setup(dir);  // after every member is initialized
}

std::string RemoteHost::Setup(const std::string& dir) {
  if (::geteuid() != 0) {
    return "a remote host needs root (a test user, sshd)";
  }
  if (!std::filesystem::exists("/usr/sbin/sshd")) {
    return "openssh-server is not installed (scripts/setup.sh installs it)";
  }
  // The user, allowed to log in with a key (no password), and nothing of
  // an earlier run: its libvirt must start again to read this qemu.conf,
  // and its domains go with it.
  RunOrFail(std::string("getent passwd ") + kUser + " >/dev/null || useradd " +
            "-m -d /var/tmp/" + kUser + " -s /bin/sh " + kUser +
            "; usermod -p '*' " + kUser);
  KillAll();
  const std::string home = Home();
  pki_ = MakeTestPki(dir + "/pki");
  RunOrFail("chmod -R a+rX " + Quote(dir + "/pki") + " && chown -R " + kUser +
            " " + Quote(pki_.server) + " && rm -rf " +
            Quote(home + "/.config/libvirt") + " && mkdir -p " +
            Quote(home + "/.config/libvirt") + " && printf " +
            Quote("backup_tls_x509_cert_dir = \"" + pki_.server +
                  "\"\nbackup_tls_x509_verify = 1\n") +
            " > " + Quote(home + "/.config/libvirt/qemu.conf") +
            " && chown -R " + kUser + " " + Quote(home));

  // sshd on a loopback port, with its own host key and the test's client
  // key as the only authorized one.
  const std::string ssh = dir + "/ssh";
  std::filesystem::create_directories(ssh);
  ssh_port_ = FreeTcpPort();
  RunOrFail("cd " + Quote(ssh) +
            " && ssh-keygen -q -t ed25519 -N '' -f host-key && ssh-keygen -q "
            "-t ed25519 -N '' -f client-key && cp client-key.pub "
            "authorized_keys && chmod 755 . && chmod 644 authorized_keys && "
            "mkdir -p /run/sshd");
  WriteText(ssh + "/sshd_config",
            "Port " + std::to_string(ssh_port_) +
                "\nListenAddress 127.0.0.1\nHostKey " + ssh +
                "/host-key\nPidFile none\nAuthorizedKeysFile " + ssh +
                "/authorized_keys\nPasswordAuthentication no\n"
                "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n");
  WriteText(ssh + "/ssh_config",
            "Host *\n  IdentityFile " + ssh +
                "/client-key\n  IdentitiesOnly "
                "yes\n  UserKnownHostsFile " +
                ssh +
                "/known_hosts\n  StrictHostKeyChecking no\n  BatchMode "
                "yes\n  LogLevel ERROR\n");
  ssh_command_ = ssh + "/ssh";
  WriteText(ssh_command_,
            "#!/bin/sh\nexec ssh -F " + ssh + "/ssh_config \"$@\"\n");
  RunOrFail("chmod 755 " + Quote(ssh_command_));
  sshd_ = std::make_unique<BackgroundProcess>(
      "/usr/sbin/sshd -D -e -f " + Quote(ssh + "/sshd_config"),
      ssh + "/sshd.log");
  const std::string login = ssh_command_ + " -p " + std::to_string(ssh_port_) +
                            " " + kUser + "@127.0.0.1 true";
  if (!Eventually(
          [&] { return RunCommand(login + " 2>/dev/null").status == 0; }, 10)) {
    return "the test's sshd did not let the test user in: " +
           RunCommand(login + " 2>&1; cat " + Quote(ssh + "/sshd.log")).output;
  }
  if (std::string why = StartLibvirt(dir, home); !why.empty()) {
    return why;
  }
  uri_ = std::string("qemu+ssh://") + kUser +
         "@127.0.0.1:" + std::to_string(ssh_port_) +
         "/session?command=" + ssh_command_;
  for (const std::string& uri : {uri_, tls_uri_}) {
    const std::string virsh = "virsh -q -c " + Quote(uri) + " version";
    if (!Eventually([&] { return RunCommand(virsh).status == 0; }, 60)) {
      return "the test user's libvirt did not answer at " + uri + ": " +
             RunCommand(virsh + " 2>&1").output;
    }
  }
  return "";
}

std::string RemoteHost::StartLibvirt(const std::string& dir,
                                     const std::string& home) {
  // The client's certificates under the names libvirt looks for.
  const std::string client = dir + "/pki/libvirt-client";
  std::filesystem::create_directories(client);
  const std::string from = pki_.client;
  RunOrFail("cp " + Quote(from + "/ca-cert.pem") + " " +
            Quote(client + "/cacert.pem") + " && cp " +
            Quote(from + "/client-cert.pem") + " " +
            Quote(client + "/clientcert.pem") + " && cp " +
            Quote(from + "/client-key.pem") + " " +
            Quote(client + "/clientkey.pem"));
  const int port = FreeTcpPort();
  const std::string conf = dir + "/libvirtd.conf";
  WriteText(conf,
            "listen_tls = 1\nlisten_tcp = 0\nlisten_addr = "
            "\"127.0.0.1\"\ntls_port = \"" +
                std::to_string(port) + "\"\nca_file = \"" + pki_.server +
                "/ca-cert.pem\"\ncert_file = \"" + pki_.server +
                "/server-cert.pem\"\nkey_file = \"" + pki_.server +
                "/server-key.pem\"\nauth_tls = \"none\"\n");
  RunOrFail("chmod 644 " + Quote(conf));
  // The session daemon ssh connections find too (its socket under the
  // user's ~/.cache: no XDG_RUNTIME_DIR over this sshd either).
  const auto started = RunCommand(
      std::string("runuser -u ") + kUser + " -- env -i HOME=" + Quote(home) +
      " PATH=/usr/sbin:/usr/bin:/sbin:/bin libvirtd --listen -d -f " +
      Quote(conf) + " 2>&1");
  if (started.status != 0) {
    return "the test user's libvirt did not start: " + started.output;
  }
  tls_uri_ = "qemu+tls://127.0.0.1:" + std::to_string(port) +
             "/session?pkipath=" + client;
  return "";
}

RemoteHost::~RemoteHost() {
  if (::geteuid() == 0) {
    KillAll();
  }
}

std::string RemoteHost::UnreachableUri() const {
  return std::string("qemu+ssh://") + kUser +
         "@127.0.0.1:" + std::to_string(FreeTcpPort()) +
         "/session?command=" + ssh_command_;
}

void RemoteHost::Give(const std::string& path) const {
  RunOrFail(std::string("chown ") + kUser + " " + Quote(path));
}

void RemoteHost::KillAll() const {
  RunCommand(std::string("pkill -9 -u ") + kUser);
  Eventually([] { return !UserHasProcesses(); }, 10);
}

}  // namespace sendense::test
