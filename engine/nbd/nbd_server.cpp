// qemu-nbd started and watched by Sendense. `--fork` makes qemu-nbd exit
// its first process only once the server listens, which tells us it is
// ready (or why not, in its log); the server itself lives on in its own
// session, found again through its pid file.

#include "engine/nbd/nbd_server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "engine/error.h"

namespace sendense {
namespace {

std::string LastLine(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) {
      last = line;
    }
  }
  return last;
}

// qemu's option syntax: a comma inside a value is written twice.
std::string EscapeCommas(const std::string& s) {
  std::string out;
  for (const char c : s) {
    out += c;
    if (c == ',') {
      out += ',';
    }
  }
  return out;
}

}  // namespace

pid_t StartNbdServer(const NbdServerSpec& spec) {
  std::vector<std::string> args = {"qemu-nbd", "--fork", "--cache=writeback",
                                   "--pid-file=" + spec.pid_file};
  if (!spec.one_client) {
    args.push_back("--persistent");
    args.push_back("--shared=16");
  }
  if (!spec.writable) {
    args.push_back("--read-only");
  }
  if (!spec.socket.empty()) {
    args.push_back("--socket=" + spec.socket);
  } else {
    args.push_back("--bind=" + spec.listen_host);
    args.push_back("--port=" + std::to_string(spec.listen_port));
    if (!spec.tls_dir.empty()) {
      // qemu's x509 server credentials verify client certificates by
      // default (verify-peer): only holders of one signed by the CA connect.
      args.push_back("--object=tls-creds-x509,id=tls0,endpoint=server,dir=" +
                     spec.tls_dir);
      args.push_back("--tls-creds=tls0");
    }
  }
  if (spec.encrypted_layers.empty()) {
    args.push_back("--format=qcow2");
    args.push_back(spec.image);
  } else {
    // The image as options: qcow2 named, nothing probed, and the key
    // secret for each encrypted layer of its chain.
    args.push_back("--object=secret,id=sendense-key,file=" +
                   EscapeCommas(spec.key_file));
    args.push_back("--image-opts");
    std::string opts = "driver=qcow2,file.filename=" + EscapeCommas(spec.image);
    for (const size_t layer : spec.encrypted_layers) {
      std::string prefix;
      for (size_t i = 0; i < layer; ++i) {
        prefix += "backing.";
      }
      opts += "," + prefix + "encrypt.key-secret=sendense-key";
    }
    args.push_back(opts);
  }
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  const int log = ::open(spec.log_file.c_str(),
                         O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log < 0) {
    ThrowSystemError("cannot create " + spec.log_file);
  }
  const pid_t child = ::fork();
  if (child < 0) {
    ::close(log);
    ThrowSystemError("cannot start qemu-nbd");
  }
  if (child == 0) {
    // serve blocks SIGTERM in its threads and a shell may ignore SIGINT:
    // the server must stop on them.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGINT, SIG_DFL);
    ::setsid();
    const int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, STDIN_FILENO);
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    if (spec.inherit_fd >= 0) {
      ::fcntl(spec.inherit_fd, F_SETFD, 0);  // survives exec
    }
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const std::string why = WIFEXITED(status) && WEXITSTATUS(status) == 127
                                ? "qemu-nbd is not installed (qemu-utils)"
                                : LastLine(spec.log_file);
    throw Error(ErrorKind::kIo, "the NBD server did not start: " + why);
  }
  std::ifstream in(spec.pid_file);
  pid_t pid = 0;
  if (!(in >> pid) || pid <= 0) {
    throw Error(ErrorKind::kIo,
                "the NBD server started but left no pid in " + spec.pid_file);
  }
  return pid;
}

bool NbdServerAlive(pid_t pid, const std::string& marker) {
  if (pid <= 0) {
    return false;
  }
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
  std::stringstream text;
  text << in.rdbuf();
  const std::string cmdline = text.str();
  if (cmdline.find("qemu-nbd") == std::string::npos ||
      cmdline.find(marker) == std::string::npos) {
    return false;
  }
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  std::getline(stat, s);
  const auto close = s.rfind(')');
  return close != std::string::npos && close + 2 < s.size() &&
         s[close + 2] != 'Z';
}

void StopNbdServer(pid_t pid, const std::string& marker) {
  if (!NbdServerAlive(pid, marker)) {
    return;
  }
  ::kill(pid, SIGTERM);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(5);
  bool killed = false;
  while (NbdServerAlive(pid, marker)) {
    if (!killed && std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    ::waitpid(pid, nullptr, WNOHANG);  // when it is our child
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace sendense
