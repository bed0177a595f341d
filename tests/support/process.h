#pragma once

#include <sys/types.h>
#include <string>

namespace sendense::test {

// A command started in the background with /bin/sh (as its own process
// group), killed with SIGKILL and reaped by the destructor.
class BackgroundProcess {
 public:
  explicit BackgroundProcess(const std::string& command,
                             const std::string& log_path = "/dev/null");
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // Waits for the process to end; returns its exit status (-1 if killed).
  int Wait();

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// Waits up to `seconds` for `path` to exist; false on timeout.
bool WaitForPath(const std::string& path, double seconds = 10);

// An NBD server on a unix socket in `dir`, stopped by the destructor.
class NbdServer {
 public:
  // `command` gets the socket path appended where "{sock}" appears.
  NbdServer(const std::string& dir, const std::string& command);
  const std::string& uri() const { return uri_; }
  const std::string& socket() const { return socket_; }

 private:
  std::string socket_;
  std::string uri_;
  BackgroundProcess process_;
};

// Serves a qcow2 image with qemu-nbd (read-only, multi-conn), exporting
// dirty bitmap `bitmap` when not empty.
std::string QemuNbdCommand(const std::string& image, const std::string& bitmap);

}  // namespace sendense::test
