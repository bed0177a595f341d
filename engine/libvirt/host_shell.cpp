#include "engine/libvirt/host_shell.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <memory>

#include "engine/catalog/hosts.h"
#include "engine/error.h"

extern char** environ;

namespace sendense::libvirt {
namespace {

// %XX of a URI's query value.
std::string PercentDecoded(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(s[i + 1]) &&
        std::isxdigit(s[i + 2])) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// A started child whose input and (merged) output are pipes.
struct Child {
  pid_t pid = -1;
  int input = -1;
  int output = -1;
};

Child Start(const std::vector<std::string>& argv) {
  int in[2];
  int out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) {
    throw Error(ErrorKind::kIo, "cannot make a pipe for " + argv[0]);
  }
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    throw Error(ErrorKind::kIo, "cannot make a pipe for " + argv[0]);
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDERR_FILENO);
  std::vector<char*> args;
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  Child c;
  const int rc =
      posix_spawnp(&c.pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(in[0]);
  ::close(out[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(out[0]);
    throw Error(ErrorKind::kIo, "cannot start " + argv[0]);
  }
  c.input = in[1];
  c.output = out[0];
  return c;
}

// Reads `fd` until `line` is read (true) or it ends (false); what was read
// before it is in `text`.
bool ReadUntil(int fd, const std::string& line, std::string& text) {
  char buf[4096];
  for (;;) {
    if (const size_t at = text.find(line + "\n");
        !line.empty() && at != std::string::npos) {
      text.resize(at);
      return true;
    }
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    text.append(buf, static_cast<size_t>(n));
  }
}

std::string ReadAll(int fd) {
  std::string text;
  ReadUntil(fd, "", text);  // no empty line is looked for: to the end
  return text;
}

int Reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

constexpr const char* kReady = "sendense-ready";

}  // namespace

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

HeldProgram::~HeldProgram() {
  ::close(input_);  // the host's side stops the program and ends
  for (int waited_ms = 0; waited_ms < 10000; waited_ms += 50) {
    if (::waitpid(ssh_, nullptr, WNOHANG) == ssh_) {
      return;
    }
    ::usleep(50 * 1000);
  }
  ::kill(ssh_, SIGKILL);  // the host stops it when the session drops
  Reap(ssh_);
}

HostShell::HostShell(const std::string& uri) {
  const size_t scheme = uri.find("://");
  if (uri.rfind("qemu+ssh://", 0) != 0 || scheme == std::string::npos) {
    throw Error(ErrorKind::kUnsupported,
                "Sendense runs programs on a host only through a qemu+ssh:// "
                "URI, and " +
                    uri + " is not one");
  }
  host_ = UriHostName(uri);
  std::string authority = uri.substr(scheme + 3);
  authority = authority.substr(0, authority.find_first_of("/?"));
  if (const size_t at = authority.rfind('@'); at != std::string::npos) {
    options_.insert(options_.end(), {"-l", authority.substr(0, at)});
    authority = authority.substr(at + 1);
  }
  const size_t close = authority.rfind(']');
  if (const size_t colon = authority.rfind(':');
      colon != std::string::npos &&
      (close == std::string::npos || colon > close)) {
    options_.insert(options_.end(), {"-p", authority.substr(colon + 1)});
  }
  if (const size_t q = uri.find('?'); q != std::string::npos) {
    std::string query = uri.substr(q + 1);
    for (size_t start = 0; start <= query.size();) {
      size_t end = query.find('&', start);
      if (end == std::string::npos) {
        end = query.size();
      }
      const std::string pair = query.substr(start, end - start);
      const size_t eq = pair.find('=');
      const std::string key = pair.substr(0, eq);
      const std::string value =
          eq == std::string::npos ? "" : PercentDecoded(pair.substr(eq + 1));
      if (key == "command" && !value.empty()) {
        command_ = value;
      } else if (key == "keyfile" && !value.empty()) {
        options_.insert(options_.end(), {"-i", value});
      } else if (key == "no_verify" && value == "1") {
        options_.insert(options_.end(), {"-o", "StrictHostKeyChecking=no"});
      }
      start = end + 1;
    }
  }
}

std::vector<std::string> HostShell::Ssh(const std::string& script) const {
  std::vector<std::string> argv{command_, "-T", "-e",
                                "none",   "-o", "BatchMode=yes"};
  argv.insert(argv.end(), options_.begin(), options_.end());
  argv.insert(argv.end(), {"--", host_, "sh -c " + ShellQuote(script)});
  return argv;
}

std::optional<std::string> HostShell::Run(
    const std::vector<std::string>& argv) const {
  std::string script;
  for (const auto& a : argv) {
    script += (script.empty() ? "" : " ") + ShellQuote(a);
  }
  const Child c = Start(Ssh(script));
  ::close(c.input);
  const std::string said = ReadAll(c.output);
  ::close(c.output);
  if (Reap(c.pid) == 0) {
    return std::nullopt;
  }
  return Trimmed(said).empty() ? argv[0] + " failed on " + host_
                               : Trimmed(said);
}

std::unique_ptr<HeldProgram> HostShell::Hold(
    const std::vector<std::string>& argv,
    std::string& why) const {
  std::string program;
  for (const auto& a : argv) {
    program += ShellQuote(a) + " ";
  }
  // The program's pid in a private folder; once it forked, "ready"; at
  // the end of input (Sendense done, or gone), it is stopped.
  const std::string script =
      "d=$(mktemp -d) || exit 1; " + program +
      "--fork --pid-file \"$d/pid\" </dev/null >/dev/null 2>\"$d/err\" || "
      "{ cat \"$d/err\"; rm -rf \"$d\"; exit 1; }; echo " +
      kReady + "; read _; kill $(cat \"$d/pid\"); rm -rf \"$d\"";
  const Child c = Start(Ssh(script));
  std::string said;
  const bool ready = ReadUntil(c.output, kReady, said);
  ::close(c.output);
  if (!ready) {
    ::close(c.input);
    Reap(c.pid);
    why = Trimmed(said).empty() ? argv[0] + " did not start on " + host_
                                : Trimmed(said);
    return nullptr;
  }
  return std::make_unique<HeldProgram>(c.pid, c.input);
}

}  // namespace sendense::libvirt
