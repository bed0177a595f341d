#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "engine/catalog/disk_source.h"

namespace sendense::cli {

// The --disk arguments "NAME=NBD_URI" (Error kInvalidArgument naming one
// not of that form), each with the client certificates of --nbd-tls
// (`tls_dir`, made absolute; "" for none).
std::vector<DiskSource> ParseDiskArguments(const std::vector<std::string>& args,
                                           const std::string& tls_dir);

// Adds --nbd-tls DIR to `cmd`, into `*tls_dir`.
CLI::Option* AddNbdTlsOption(CLI::App& cmd, std::string* tls_dir);

}  // namespace sendense::cli
