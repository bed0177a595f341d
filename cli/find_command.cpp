// `find` and `history`: searches of the guest file index.

#include <sys/stat.h>

#include <ctime>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "cli/commands.h"
#include "engine/error.h"
#include "engine/repo/repository.h"
#include "engine/time.h"

namespace sendense::cli {
namespace {

constexpr size_t kFindLimit = 100000;

// Guest names may hold any byte: JSON gets them with invalid UTF-8
// replaced, text output with control characters escaped.
std::string Printable(const std::string& s) {
  std::ostringstream out;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      out << "\\x" << std::hex << std::setw(2) << std::setfill('0')
          << static_cast<int>(c) << std::dec;
    } else {
      out << c;
    }
  }
  return out.str();
}

const char* Type(uint32_t mode) {
  switch (mode & S_IFMT) {
    case S_IFDIR:
      return "dir";
    case S_IFLNK:
      return "link";
    case S_IFREG:
      return "file";
    default:
      return "special";
  }
}

nlohmann::json HitJson(const GuestFileHit& h) {
  return {{"vm", h.vm},
          {"backup", h.backup},
          {"filesystem", h.filesystem},
          {"path", h.entry.path},
          {"tree_path",
           h.vm + "/" + h.backup + "/files/" + h.filesystem + h.entry.path},
          {"type", Type(h.entry.mode)},
          {"size", h.entry.size},
          {"mode", h.entry.mode & 07777},
          {"mtime", IsoTimeOfNs(h.entry.mtime_ns)}};
}

std::string Dump(const nlohmann::json& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

struct FindArgs {
  std::string vm;
  std::string pattern;
  bool json = false;
};

// Error kNotFound unless the catalog knows `vm` (empty: any).
void RequireVm(const Repository& repo, const std::string& vm) {
  if (!vm.empty() && !repo.OpenCatalog()->FindVm(vm)) {
    throw Error(ErrorKind::kNotFound, "no VM named '" + vm + "'");
  }
}

void RunFind(const GlobalOptions& global, const FindArgs& args) {
  Repository repo(RequireRepo(global));
  RequireVm(repo, args.vm);
  GuestIndex index(repo.CatalogPath());
  const auto hits = index.Find(args.vm, args.pattern, kFindLimit);
  if (args.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& h : hits) {
      out.push_back(HitJson(h));
    }
    std::cout << Dump({{"matches", out}}) << "\n";
    return;
  }
  if (hits.empty()) {
    std::cout << "No match.\n";
  }
  for (const auto& h : hits) {
    std::cout << h.vm << "/" << h.backup << "/files/" << h.filesystem
              << Printable(h.entry.path) << "  " << Type(h.entry.mode) << " "
              << HumanBytes(static_cast<double>(h.entry.size)) << " "
              << IsoTimeOfNs(h.entry.mtime_ns) << "\n";
  }
}

struct HistoryArgs {
  std::string vm;
  std::string path;
  bool json = false;
};

void RunHistory(const GlobalOptions& global, const HistoryArgs& args) {
  Repository repo(RequireRepo(global));
  std::string path = args.path;
  std::string fs;
  // "sda1:/etc/motd" or "/etc/motd" (any filesystem).
  if (const auto colon = path.find(':');
      colon != std::string::npos && path.find('/') > colon) {
    fs = path.substr(0, colon);
    path = path.substr(colon + 1);
  }
  if (path.empty() || path[0] != '/') {
    throw Error(ErrorKind::kInvalidArgument,
                "the path must be absolute inside the guest, e.g. /etc/motd");
  }
  RequireVm(repo, args.vm);
  auto catalog = repo.OpenCatalog();
  GuestIndex index(repo.CatalogPath());
  // Versions by backup and filesystem, and which filesystems each backup
  // has indexed: a point that indexed the filesystem without the file
  // shows it deleted.
  std::map<std::pair<std::string, std::string>, GuestFileHit> found;
  std::set<std::string> filesystems;
  for (auto& h : index.History(args.vm, path)) {
    if (fs.empty() || h.filesystem == fs) {
      filesystems.insert(h.filesystem);
      found.emplace(std::pair(h.backup, h.filesystem), std::move(h));
    }
  }
  if (found.empty()) {
    throw Error(ErrorKind::kNotFound,
                "no indexed point of VM '" + args.vm + "' holds " + args.path);
  }
  // A version is new when its size, mtime or mode moved since the point
  // before (of the same filesystem). ctime is left out: restoring or
  // rebuilding a disk changes it without changing the file.
  std::map<std::string, const GuestEntry*> previous;
  nlohmann::json out = nlohmann::json::array();
  for (const auto& b : catalog->Backups(args.vm)) {
    if (b.state != BackupState::kComplete) {
      continue;
    }
    std::set<std::string> indexed;
    for (const auto& f : index.Filesystems(b.id)) {
      if (f.state == "indexed") {
        indexed.insert(f.name);
      }
    }
    for (const auto& name : filesystems) {
      if (!indexed.count(name)) {
        continue;  // not indexed in this point: nothing to say
      }
      const GuestEntry*& before = previous[name];
      const auto it = found.find({b.name, name});
      if (it == found.end()) {
        if (before != nullptr) {
          before = nullptr;
          if (args.json) {
            out.push_back({{"vm", args.vm},
                           {"backup", b.name},
                           {"filesystem", name},
                           {"path", path},
                           {"change", "deleted"},
                           {"changed", true}});
          } else {
            std::cout << b.name << "  files/" << name << Printable(path)
                      << "  deleted\n";
          }
        }
        continue;
      }
      const GuestFileHit& h = it->second;
      const char* change = before == nullptr ? "new"
                           : before->size != h.entry.size ||
                                   before->mtime_ns != h.entry.mtime_ns ||
                                   before->mode != h.entry.mode
                               ? "changed"
                               : "same";
      before = &h.entry;
      if (args.json) {
        auto j = HitJson(h);
        j["change"] = change;
        j["changed"] = std::string(change) != "same";
        out.push_back(j);
      } else {
        std::cout << h.backup << "  files/" << h.filesystem
                  << Printable(h.entry.path) << "  "
                  << HumanBytes(static_cast<double>(h.entry.size)) << "  "
                  << IsoTimeOfNs(h.entry.mtime_ns) << "  " << change << "\n";
      }
    }
  }
  if (args.json) {
    std::cout << Dump({{"versions", out}}) << "\n";
  }
}

}  // namespace

void RegisterFind(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<FindArgs>();
  auto* cmd = app.add_subcommand(
      "find", "Find guest files in every indexed point (glob PATTERN)");
  cmd->add_option("PATTERN", args->pattern,
                  "Glob on the name (nginx.conf, *.log) or, with a '/', on "
                  "the whole path (/etc/*)")
      ->required();
  cmd->add_option("--vm", args->vm, "Only this VM");
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->callback([&global, args] { RunFind(global, *args); });
}

void RegisterHistory(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<HistoryArgs>();
  auto* cmd = app.add_subcommand(
      "history", "Versions of one guest file across the points of a VM");
  cmd->add_option("--vm", args->vm, "VM name")->required();
  cmd->add_option("PATH", args->path,
                  "Absolute guest path (/etc/motd), optionally FS:PATH")
      ->required();
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->callback([&global, args] { RunHistory(global, *args); });
}

}  // namespace sendense::cli
