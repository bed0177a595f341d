#pragma once

// The subcommands of `sendense`. Each Register function adds one
// subcommand to the app; its callback runs the command and throws
// sendense::Error on failure (main turns that into one sentence and a
// non-zero exit status).

#include <CLI/CLI.hpp>
#include <string>

namespace sendense::cli {

struct GlobalOptions {
  std::string repo;  // -r, or $SENDENSE_REPO
};

// The repository path, or Error kInvalidArgument when none was given.
const std::string& RequireRepo(const GlobalOptions& global);

void RegisterInit(CLI::App& app, GlobalOptions& global);
void RegisterBackup(CLI::App& app, GlobalOptions& global);
void RegisterList(CLI::App& app, GlobalOptions& global);
void RegisterMount(CLI::App& app, GlobalOptions& global);

// "1.5 GiB"
std::string HumanBytes(double bytes);

}  // namespace sendense::cli
