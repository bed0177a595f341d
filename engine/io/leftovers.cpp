#include "engine/io/leftovers.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/io/file.h"
#include "engine/log.h"

namespace sendense {
namespace {

namespace fs = std::filesystem;

std::atomic<unsigned> next_note{0};

bool Removable(const fs::path& path) {
  const std::string name = path.filename().string();
  const std::string suffix = ".restoring";
  const bool restoring =
      name.size() > suffix.size() + 1 && name[0] == '.' &&
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  return path.is_absolute() &&
         (restoring || name.rfind("sendense-overlay-", 0) == 0);
}

}  // namespace

bool OwnerAlive(long pid, std::time_t noted_at) {
  if (pid <= 0 || (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM)) {
    return false;
  }
  // A pid is reused once its process is gone: the owner started before
  // it wrote its note; a process that started later is another one.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto paren = line.rfind(')');
  std::ifstream boot("/proc/stat");
  std::string word;
  long long boot_time = -1;
  while (boot >> word) {
    if (word == "btime") {
      boot >> boot_time;
      break;
    }
  }
  if (paren == std::string::npos || boot_time < 0) {
    return true;  // cannot tell: keep it
  }
  std::istringstream fields(line.substr(paren + 2));
  std::string field;
  unsigned long long start_ticks = 0;
  for (int i = 3; i <= 22 && fields >> field; ++i) {  // field 22: starttime
    if (i == 22) {
      start_ticks = std::stoull(field);
    }
  }
  const long long started =
      boot_time +
      static_cast<long long>(start_ticks / static_cast<unsigned long long>(
                                               ::sysconf(_SC_CLK_TCK)));
  return started <= static_cast<long long>(noted_at) + 1;
}

LeftoverNote::LeftoverNote(const std::string& ledger, const std::string& path) {
  std::error_code ec;
  fs::create_directories(ledger, ec);
  fs::permissions(ledger, fs::perms::owner_all, ec);
  note_ = ledger + "/" + std::to_string(::getpid()) + "-" +
          std::to_string(next_note++);
  try {
    WriteFileAtomically(note_, path + "\n", 0600);
  } catch (const std::exception& e) {
    Log(LogLevel::kWarning, std::string("cannot note a temporary file (") +
                                e.what() + "): a crash would leave " + path);
    note_.clear();
  }
}

LeftoverNote::~LeftoverNote() {
  if (!note_.empty()) {
    ::unlink(note_.c_str());
  }
}

size_t ReclaimLeftovers(const std::string& ledger) {
  size_t removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(ledger, ec)) {
    const std::string name = entry.path().filename().string();
    const auto dash = name.find('-');
    if (dash == std::string::npos || dash == 0 || name[0] == '.') {
      continue;  // not a note (a note being written is ".name.tmp")
    }
    long pid = 0;
    try {
      pid = std::stol(name.substr(0, dash));
    } catch (const std::exception&) {
      continue;
    }
    struct stat st {};
    if (::stat(entry.path().c_str(), &st) != 0 ||
        OwnerAlive(pid, st.st_mtime)) {
      continue;
    }
    std::ifstream in(entry.path());
    std::string path;
    std::getline(in, path);
    std::error_code gone;
    if (!path.empty() && Removable(path)) {
      const auto n = fs::remove_all(path, gone);
      if (n != static_cast<std::uintmax_t>(-1) && n > 0) {
        ++removed;
        Log(LogLevel::kInfo, "removed " + path + ", left by process " +
                                 std::to_string(pid) + " that is gone");
      }
    }
    fs::remove(entry.path(), gone);
  }
  return removed;
}

}  // namespace sendense
