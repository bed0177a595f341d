#include "tests/support/process.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "tests/support/test_env.h"

namespace sendense::test {

BackgroundProcess::BackgroundProcess(const std::string& command,
                                     const std::string& log_path) {
  pid_ = ::fork();
  if (pid_ < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid_ == 0) {
    ::setpgid(0, 0);
    const std::string cmd = "exec " + command + " >>" + log_path + " 2>&1";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    ::_exit(127);
  }
  ::setpgid(pid_, pid_);
}

BackgroundProcess::~BackgroundProcess() {
  if (!reaped_) {
    ::kill(-pid_, SIGKILL);
    Wait();
  }
}

void BackgroundProcess::Signal(int sig) {
  ::kill(pid_, sig);
}

int BackgroundProcess::Wait() {
  if (reaped_) {
    return -1;
  }
  int status = 0;
  ::waitpid(pid_, &status, 0);
  reaped_ = true;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool WaitForPath(const std::string& path, double seconds) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  struct stat st {};
  while (::stat(path.c_str(), &st) != 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

NbdServer::NbdServer(const std::string& dir, const std::string& command)
    : socket_([&] {
        static std::atomic<int> counter{0};
        return dir + "/nbd-" + std::to_string(::getpid()) + "-" +
               std::to_string(counter++) + ".sock";
      }()),
      uri_("nbd+unix:///?socket=" + socket_),
      process_(
          [&] {
            std::string c = command;
            const auto at = c.find("{sock}");
            if (at != std::string::npos) {
              c.replace(at, 6, Quote(socket_));
            }
            return c;
          }(),
          dir + "/nbd-server.log") {
  if (!WaitForPath(socket_)) {
    throw std::runtime_error("NBD server did not start: " + command);
  }
}

std::string QemuNbdCommand(const std::string& image,
                           const std::string& bitmap) {
  std::string c = "qemu-nbd -f qcow2 -r -e 8 -t -k {sock}";
  if (!bitmap.empty()) {
    c += " -B " + bitmap;
  }
  return c + " " + Quote(image);
}

}  // namespace sendense::test
