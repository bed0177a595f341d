#include "cli/disk_argument.h"

#include <filesystem>

#include "engine/error.h"

namespace sendense::cli {

namespace {

DiskSource ParseDiskArgument(const std::string& arg) {
  const auto eq = arg.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size()) {
    throw Error(ErrorKind::kInvalidArgument,
                "--disk '" + arg + "' is not of the form NAME=NBD_URI");
  }
  return DiskSource::At(arg.substr(0, eq), arg.substr(eq + 1));
}

}  // namespace

std::vector<DiskSource> ParseDiskArguments(const std::vector<std::string>& args,
                                           const std::string& tls_dir) {
  std::vector<DiskSource> disks;
  for (const auto& a : args) {
    disks.push_back(ParseDiskArgument(a));
    if (!tls_dir.empty()) {
      disks.back().tls_certificates =
          std::filesystem::absolute(tls_dir).lexically_normal();
    }
  }
  return disks;
}

CLI::Option* AddNbdTlsOption(CLI::App& cmd, std::string* tls_dir) {
  return cmd.add_option(
      "--nbd-tls", *tls_dir,
      "Client certificates for nbds:// disks: a directory with ca-cert.pem, "
      "client-cert.pem and client-key.pem");
}

}  // namespace sendense::cli
