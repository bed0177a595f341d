#pragma once

#include <memory>
#include <string>

#include "tests/support/pki.h"
#include "tests/support/process.h"

namespace sendense::test {

// A "remote" hypervisor on this machine, nothing leaving loopback: the
// session libvirt of the test user sendense-remote (its own QEMU, and its
// own qemu.conf naming the backup jobs' TLS certificates), reached through
// qemu+ssh:// over an sshd started here on a loopback port with keys made
// here, and through qemu+tls:// (that libvirt listens on a loopback port
// with the test CA's server certificate, the client's given by the URI's
// `pkipath`). The machine's own sshd, ssh client and libvirt setup are
// never touched (the ssh client runs with a private config through the
// URI's `command`).
class RemoteHost {
 public:
  // The host's user: its libvirt, QEMU and qemu-nbd run as it.
  static constexpr const char* kUser = "sendense-remote";

  // Sets it up under `dir`, which the user must be able to enter: a CA
  // with the host QEMU's server certificate and client certificates
  // (pki()), the user, sshd, the user's libvirt (started afresh, so it
  // reads this qemu.conf). why_not() says what is missing instead.
  explicit RemoteHost(const std::string& dir);
  // Ends every process of the user and sshd.
  ~RemoteHost();

  const std::string& why_not() const { return why_not_; }
  // qemu+ssh://sendense-remote@127.0.0.1:PORT/session?command=...
  const std::string& uri() const { return uri_; }
  // qemu+tls://127.0.0.1:PORT/session?pkipath=...
  const std::string& tls_uri() const { return tls_uri_; }
  // The same host through sshd on a port where nothing listens.
  std::string UnreachableUri() const;
  const TestPki& pki() const { return pki_; }
  // Makes `path` the user's, so that its QEMU can open it.
  void Give(const std::string& path) const;
  // The host goes down: every process of the user killed at once (its
  // QEMU, its libvirt, the ssh session).
  void KillAll() const;

 private:
  std::string Setup(const std::string& dir);
  // Starts the user's libvirt listening for qemu+tls:// too.
  std::string StartLibvirt(const std::string& dir, const std::string& home);

  std::string why_not_;
  std::string uri_;
  std::string tls_uri_;
  int ssh_port_ = 0;
  std::string ssh_command_;
  TestPki pki_;
  std::unique_ptr<BackgroundProcess> sshd_;
};

}  // namespace sendense::test
