// The `sendense` binary: parses the command line and calls the engine.

#include <CLI/CLI.hpp>
#include <iostream>

#include "engine/error.h"
#include "sendense/version.h"

int main(int argc, char** argv) {
  CLI::App app{
      "Sendense: VM backups as a live, read-only tree of points-in-time"};
  app.set_version_flag("--version",
                       std::string("sendense ") + sendense::kVersion);
  app.require_subcommand(0);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (argc == 1) {
    std::cout << app.help();
  }
  return 0;
}
