// `find`, `history` and `diff`: reading the guest file index.

#include <ctime>
#include <iomanip>
#include <iostream>
#include <limits>
#include <sstream>

#include "cli/commands.h"
#include "engine/catalog/file_history.h"
#include "engine/catalog/guest_diff.h"
#include "engine/error.h"
#include "engine/repo/known_vms.h"
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

std::string Dump(const nlohmann::json& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

struct FindArgs {
  std::string vm;
  std::string pattern;
  bool json = false;
};

void RunFind(const GlobalOptions& global, const FindArgs& args) {
  Repository repo(RequireRepo(global));
  RequireKnownVm(repo, args.vm);
  GuestIndex index(repo.CatalogPath());
  const auto hits = index.Find(args.vm, args.pattern, kFindLimit);
  if (args.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& h : hits) {
      out.push_back(GuestFileHitJson(h));
    }
    std::cout << Dump({{"matches", out}}) << "\n";
    return;
  }
  if (hits.empty()) {
    std::cout << "No match.\n";
  }
  for (const auto& h : hits) {
    std::cout << h.vm << "/" << h.backup << "/files/" << h.filesystem
              << Printable(h.entry.path) << "  " << GuestTypeName(h.entry.mode)
              << " " << HumanBytes(static_cast<double>(h.entry.size)) << " "
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
  RequireKnownVm(repo, args.vm);
  auto catalog = repo.OpenCatalog();
  GuestIndex index(repo.CatalogPath());
  const auto versions = FileHistory(*catalog, index, args.vm, args.path);
  if (args.json) {
    std::cout << Dump({{"versions", versions}}) << "\n";
    return;
  }
  for (const auto& v : versions) {
    const std::string where = "files/" + v["filesystem"].get<std::string>() +
                              Printable(v["path"].get<std::string>());
    if (v["change"] == "deleted") {
      std::cout << v["backup"].get<std::string>() << "  " << where
                << "  deleted\n";
      continue;
    }
    std::cout << v["backup"].get<std::string>() << "  " << where << "  "
              << HumanBytes(v["size"].get<double>()) << "  "
              << v["mtime"].get<std::string>() << "  "
              << v["change"].get<std::string>() << "\n";
  }
}

struct DiffArgs {
  std::string vm, from, to, path;
  bool json = false;
};

void PrintDiff(const GuestDiff& d) {
  std::cout << "Guest files of " << d.vm << " from " << d.from << " to " << d.to
            << (d.path == "/" && d.filesystem.empty()
                    ? ""
                    : " under " + (d.filesystem.empty()
                                       ? d.path
                                       : d.filesystem + ":" + d.path))
            << ":\n";
  for (const auto& c : d.changes) {
    const std::string at = c.filesystem + ":" + Printable(c.path);
    switch (c.kind) {
      case GuestChange::Kind::kAdded:
        std::cout << "  + " << at << " ("
                  << HumanBytes(static_cast<double>(c.size)) << ")\n";
        break;
      case GuestChange::Kind::kRemoved:
        std::cout << "  - " << at << "\n";
        break;
      case GuestChange::Kind::kRenamed:
        std::cout << "  R " << c.filesystem << ":" << Printable(c.from_path)
                  << " -> " << Printable(c.path);
        break;
      default:
        std::cout << "  M " << at;
    }
    if (c.kind == GuestChange::Kind::kRenamed ||
        c.kind == GuestChange::Kind::kChanged) {
      std::string what;
      for (const auto& w : c.what) {
        what += (what.empty() ? "" : ", ") + w;
      }
      std::cout << (what.empty() ? "" : " (" + what + ")") << "\n";
    }
  }
  std::cout << d.added << " added, " << d.removed << " removed, " << d.changed
            << " changed, " << d.renamed << " renamed (" << d.from_files
            << " entries against " << d.to_files << ")";
  for (const auto& f : d.filesystems) {
    if (f.state == "added" || f.state == "removed") {
      std::cout << "; filesystem " << f.name << " " << f.state;
    } else if (f.state == "failed") {
      std::cout << "; filesystem " << f.name << " not compared: " << f.error;
    }
  }
  std::cout << "\n";
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

void RegisterDiff(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<DiffArgs>();
  auto* cmd = app.add_subcommand(
      "diff",
      "What changed in a VM's guest files between two points (from the "
      "index)");
  cmd->add_option("--vm", args->vm, "VM name")->required();
  cmd->add_option("FROM", args->from, "The older point")->required();
  cmd->add_option("TO", args->to, "The newer point")->required();
  cmd->add_option("--path", args->path,
                  "Only this guest path and what is under it (/etc, or "
                  "FS:/etc)");
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->callback([&global, args] {
    Repository repo(RequireRepo(global));
    RequireKnownVm(repo, args->vm);
    auto catalog = repo.OpenCatalog();
    GuestIndex index(repo.CatalogPath());
    const GuestDiff d = DiffGuestFiles(*catalog, index, args->vm, args->from,
                                       args->to, args->path);
    if (args->json) {
      std::cout << Dump(GuestDiffJson(d, std::numeric_limits<size_t>::max()))
                << "\n";
    } else {
      PrintDiff(d);
    }
  });
}

}  // namespace sendense::cli
