// The `sendense` binary: parses the command line and runs a subcommand.
// This is the one place where errors become an exit status and a sentence.

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "cli/remedy.h"
#include "cli/secret_input.h"
#include "cli/usage_errors.h"
#include "engine/error.h"
#include "sendense/version.h"

namespace sendense::cli {

const std::string& RequireRepo(const GlobalOptions& global) {
  if (global.repo.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                "no repository given: use -r REPO or set SENDENSE_REPO");
  }
  return global.repo;
}

void AddPointOptions(CLI::App& cmd,
                     std::string& vm,
                     std::string& point,
                     std::string& disk) {
  cmd.add_option("--vm", vm, "The VM")->required();
  cmd.add_option("--point", point,
                 "The point (a backup's name; default: the newest)");
  cmd.add_option("--disk", disk, "The disk (default: the VM's only disk)");
}

std::string HumanBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (bytes >= 1024 && u < 5) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes,
                units[u]);
  return buf;
}

namespace {

// `-r REPO` is accepted anywhere (`sendense list -r REPO`), and every
// subcommand's --help shows it.
void AddRepoOption(CLI::App& app, GlobalOptions& global) {
  for (CLI::App* sub : app.get_subcommands({})) {
    sub->add_option("-r,--repo", global.repo,
                    "Repository directory (or $SENDENSE_REPO)");
    AddRepoOption(*sub, global);
  }
}

}  // namespace

}  // namespace sendense::cli

int main(int argc, char** argv) {
  using namespace sendense::cli;
  // A peer that goes away (a libvirt host's ssh, an HTTP client, a pipe
  // reader) is an error on that write, never the end of the process.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{
      "Sendense: VM backups as a live, read-only tree of points-in-time"};
  app.set_version_flag("--version",
                       std::string("sendense ") + sendense::kVersion);
  GlobalOptions global;
  app.add_option("-r,--repo", global.repo, "Repository directory")
      ->envname("SENDENSE_REPO");
  app.require_subcommand(1);
  RegisterInit(app, global);
  RegisterBackup(app, global);
  RegisterList(app, global);
  RegisterMount(app, global);
  RegisterIndex(app, global);
  RegisterFind(app, global);
  RegisterHistory(app, global);
  RegisterDiff(app, global);
  RegisterReview(app, global);
  RegisterVm(app, global);
  RegisterServe(app, global);
  RegisterPrune(app, global);
  RegisterVerify(app, global);
  RegisterCopy(app, global);
  RegisterRestore(app, global);
  RegisterExport(app, global);
  RegisterSambaConfig(app, global);
  RegisterAccess(app, global);
  RegisterHost(app, global);
  RegisterTarget(app, global);
  RegisterKey(app, global);
  AddRepoOption(app, global);
  // A repository's key asked on the terminal when it cannot be read (serve
  // and mount never ask: they run on).
  AskForKeysOnTheTerminal();
  // Usage mistakes: one sentence, exit status 2.
  if (const auto unknown = UnknownCommand(app, argc, argv)) {
    std::cerr << "sendense: " << *unknown << "\n";
    return kUsageExit;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    std::cerr << "sendense: " << DescribeParseError(app, e) << "\n";
    return kUsageExit;
  } catch (const sendense::Error& e) {
    std::cerr << "sendense: " << sendense::cli::Explain(e) << "\n";
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    std::cerr << "sendense: " << e.code().message() << ": " << e.path1()
              << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "sendense: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
