#pragma once

// Programs run on a libvirt host of another machine, reached as libvirt
// reaches it for a qemu+ssh:// URI: ssh (or the URI's `command`) with the
// URI's user, port and `keyfile`, in batch mode. A shut-off domain's
// disk images are only there, so qemu-img and qemu-nbd must run there.

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sendense::libvirt {

// A program held running on the host while this object lives. It stops
// when the object goes, and when Sendense dies: the ssh session's input
// closes and the host's side of it stops the program.
class HeldProgram {
 public:
  HeldProgram(pid_t ssh, int input) : ssh_(ssh), input_(input) {}
  HeldProgram(const HeldProgram&) = delete;
  HeldProgram& operator=(const HeldProgram&) = delete;
  ~HeldProgram();

 private:
  pid_t ssh_;
  int input_;
};

class HostShell {
 public:
  // Throws kUnsupported for a URI that is not qemu+ssh:// (qemu+tls://
  // and qemu+tcp:// give no way to run a program on the host).
  explicit HostShell(const std::string& uri);

  // Runs `argv` on the host to its end: nullopt when it succeeded, else
  // what it (or ssh) said.
  std::optional<std::string> Run(const std::vector<std::string>& argv) const;

  // Starts `argv`, a program that forks into the background once it
  // serves (given --fork and --pid-file "$PIDFILE", as qemu-nbd takes
  // them; the host's shell fills in $PIDFILE). The held program, or
  // what it said when it did not start (`why`).
  std::unique_ptr<HeldProgram> Hold(const std::vector<std::string>& argv,
                                    std::string& why) const;

 private:
  // The local command that runs `script` in the host's shell.
  std::vector<std::string> Ssh(const std::string& script) const;

  std::string host_;
  std::vector<std::string> options_;  // ssh's, from the URI
  std::string command_ = "ssh";
};

// `s` quoted for a POSIX shell.
std::string ShellQuote(const std::string& s);

}  // namespace sendense::libvirt
