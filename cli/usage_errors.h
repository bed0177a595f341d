#pragma once

// Command-line mistakes as one sentence each: "sendense: unknown command
// 'lsit'; did you mean 'list'?", exit status 2.

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>
#include "engine/catalog/names.h"

namespace sendense::cli {

using sendense::NearestName;

constexpr int kUsageExit = 2;

// The sentence for a command that names no subcommand of `app` (checked
// before parsing, so that `sendense lsit` is not reported as a missing
// subcommand), or nullopt when the command line names one.
std::optional<std::string> UnknownCommand(const CLI::App& app,
                                          int argc,
                                          const char* const* argv);

// One sentence for a parse error of `app` (after app.parse threw).
std::string DescribeParseError(const CLI::App& app, const CLI::ParseError& e);

// A validator of a number between `lo` and `hi` whose message says so in
// words: "must be between 1 and 86400 seconds".
CLI::Validator Between(double lo, double hi, const std::string& unit);

// A validator of a folder that exists: "must be an existing folder".
CLI::Validator ExistingFolder();

}  // namespace sendense::cli
