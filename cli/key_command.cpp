// key add|rm: the keys that open an encrypted repository's points
// (docs/encryption.md), changed in each point's LUKS key slots.

#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/audit_trail.h"
#include "cli/commands.h"
#include "engine/error.h"
#include "engine/repo/key_slots.h"
#include "engine/repo/repository_key.h"

namespace sendense::cli {
namespace {

struct KeyArgs {
  std::string key_file;
  bool use = false;
};

void Print(const KeySlotReport& r, const std::string& done) {
  for (const auto& p : r.points) {
    if (!p.error.empty()) {
      std::cout << "  " << p.file << ": " << p.error << "\n";
    }
  }
  std::cout << done << " " << r.changed() << " of " << r.points.size()
            << " encrypted point" << (r.points.size() == 1 ? "" : "s") << "\n";
  if (r.failed() > 0) {
    throw Error(ErrorKind::kIo, std::to_string(r.failed()) +
                                    " point(s) could not be changed (see "
                                    "above); run it again when they can");
  }
}

std::string Absolute(const std::string& path) {
  return std::filesystem::absolute(path).lexically_normal();
}

}  // namespace

void RegisterKey(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<KeyArgs>();
  auto* key = app.add_subcommand(
      "key", "The keys that open an encrypted repository's points (add, rm)");
  key->require_subcommand(1);

  auto* add = key->add_subcommand(
      "add", "Add a key to every encrypted point (no data re-encrypted)");
  add->add_option("--key-file", args->key_file,
                  "The new key (0600, at least 32 bytes); made when it does "
                  "not exist")
      ->required();
  add->add_flag("--use", args->use,
                "Then read the repository with it (the recorded key file)");
  add->callback([&global, args] {
    Repository repo(RequireRepo(global));
    const std::string path = Absolute(args->key_file);
    const bool made = !std::filesystem::exists(path);
    const std::string new_key =
        made ? GenerateKeyFile(path) : ReadKeyFile(path);
    if (made) {
      std::cout << "New key in " << path
                << " (shown once: keep it offline):\n  " << new_key << "\n";
    }
    Audited(repo, "key add", path, [&] {
      Print(AddKey(repo, new_key), "Added the key to");
      if (args->use) {
        repo.OpenCatalogForWriting()->SetSetting("key_file", path);
        std::cout << "The repository now reads with " << path << "\n";
      }
    });
  });

  auto* rm = key->add_subcommand(
      "rm", "Remove a key from every encrypted point that has it");
  rm->add_option("--key-file", args->key_file, "The key to remove")->required();
  rm->callback([&global, args] {
    Repository repo(RequireRepo(global));
    const std::string path = Absolute(args->key_file);
    const std::string old_key = ReadKeyFile(path);
    Audited(repo, "key rm", path,
            [&] { Print(RemoveKey(repo, old_key), "Removed the key from"); });
  });
}

}  // namespace sendense::cli
