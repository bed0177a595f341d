#pragma once

// The subcommands of `sendense`. Each Register function adds one
// subcommand to the app; its callback runs the command and throws
// sendense::Error on failure (main turns that into one sentence and a
// non-zero exit status).

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/catalog/guest_index.h"
#include "engine/catalog/retention_policy.h"

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
void RegisterIndex(CLI::App& app, GlobalOptions& global);
void RegisterFind(CLI::App& app, GlobalOptions& global);
void RegisterHistory(CLI::App& app, GlobalOptions& global);
void RegisterDiff(CLI::App& app, GlobalOptions& global);
void RegisterReview(CLI::App& app, GlobalOptions& global);
void RegisterVm(CLI::App& app, GlobalOptions& global);
void RegisterServe(CLI::App& app, GlobalOptions& global);
void RegisterPrune(CLI::App& app, GlobalOptions& global);  // and forget
void RegisterVerify(CLI::App& app, GlobalOptions& global);
void RegisterCopy(CLI::App& app, GlobalOptions& global);
void RegisterRestore(CLI::App& app, GlobalOptions& global);
void RegisterSambaConfig(CLI::App& app, GlobalOptions& global);
void RegisterExport(CLI::App& app,
                    GlobalOptions& global);  // and exports, unexport
// tenant, user, token and audit
void RegisterAccess(CLI::App& app, GlobalOptions& global);
void RegisterHost(CLI::App& app, GlobalOptions& global);
void RegisterTarget(CLI::App& app, GlobalOptions& global);
void RegisterKey(CLI::App& app, GlobalOptions& global);

// --keep-last ... --keep-yearly into `policy` (prune, vm add, vm set).
std::vector<CLI::Option*> AddKeepOptions(CLI::App& cmd,
                                         retention::Policy& policy);

// Guest filesystems found by the indexer, as JSON and as text lines.
nlohmann::json FilesystemsJson(const std::vector<GuestFilesystem>& fss);
void PrintFilesystems(const std::vector<GuestFilesystem>& fss);

// --vm (required), --point and --disk: one disk of one point (restore,
// export).
void AddPointOptions(CLI::App& cmd,
                     std::string& vm,
                     std::string& point,
                     std::string& disk);

// "1.5 GiB"
std::string HumanBytes(double bytes);

}  // namespace sendense::cli
