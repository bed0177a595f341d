// key add|rm|set|list|export: the keys that open encrypted points
// (docs/encryption.md), changed in each point's LUKS key slots; the
// repository's key, a tenant's or a VM's (--tenant, --vm).

#include <filesystem>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/audit_trail.h"
#include "cli/commands.h"
#include "engine/error.h"
#include "engine/repo/key_slots.h"
#include "engine/repo/paper_key.h"
#include "engine/repo/repository_key.h"
#include "engine/time.h"

namespace sendense::cli {
namespace {

struct KeyArgs {
  std::string key_file;
  std::vector<std::string> key_files;
  std::string vm, tenant;
  bool use = false;
  bool paper = false;
  bool json = false;
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

void AddScopeOptions(CLI::App* cmd, KeyArgs& args) {
  auto* vm = cmd->add_option("--vm", args.vm, "A VM's own key");
  cmd->add_option("--tenant", args.tenant, "A tenant's key")->excludes(vm);
}

KeyScope ScopeFrom(const KeyArgs& args) {
  if (!args.vm.empty()) {
    return {KeyScope::Kind::kVm, args.vm};
  }
  if (!args.tenant.empty()) {
    return {KeyScope::Kind::kTenant, args.tenant};
  }
  return {};
}

// The key in FILE, made (and printed once) when FILE does not exist.
std::string ReadOrMakeKey(const std::string& path) {
  if (std::filesystem::exists(path)) {
    return ReadKeyFile(path);
  }
  const std::string key = GenerateKeyFile(path);
  std::cout << "New key in " << path << " (shown once: keep it offline):\n  "
            << key << "\n";
  return key;
}

nlohmann::json ToJson(const KeyListing& l) {
  nlohmann::json keys = nlohmann::json::array();
  for (const auto& k : l.keys) {
    keys.push_back(
        {{"file", k.file}, {"in_use", k.in_use}, {"opens", k.opens}});
  }
  nlohmann::json unreadable = nlohmann::json::array();
  for (const auto& u : l.unreadable) {
    unreadable.push_back({{"file", u.file}, {"error", u.error}});
  }
  return {{"scope", l.key.scope.Describe()},
          {"encrypts", l.key.encrypts},
          {"key_file", l.key.file},
          {"key_problem", l.key.problem},
          {"points", l.points},
          {"keys", keys},
          {"other_slots", l.other_slots},
          {"unreadable", unreadable}};
}

void PrintListing(const KeyListing& l) {
  std::cout << "Keys of " << l.key.scope.Describe() << ": " << l.points
            << " encrypted point" << (l.points == 1 ? "" : "s")
            << (l.key.encrypts ? ", new points encrypted" : "") << "\n";
  if (!l.key.problem.empty()) {
    std::cout << "  its key is missing: " << l.key.problem << "\n";
  }
  for (const auto& k : l.keys) {
    std::cout << "  " << k.file << (k.in_use ? " (in use)" : "") << ": opens "
              << k.opens << " of " << l.points << "\n";
  }
  if (l.other_slots > 0) {
    std::cout << "  " << l.other_slots
              << " key slot(s) in use that no key given here opens "
                 "(a recovery key, or one to remove with key rm)\n";
  }
  for (const auto& u : l.unreadable) {
    std::cout << "  " << u.file << ": " << u.error << "\n";
  }
}

}  // namespace

void RegisterKey(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<KeyArgs>();
  auto* key = app.add_subcommand(
      "key",
      "The keys that open encrypted points (add, rm, set, list, export)");
  key->require_subcommand(1);

  auto* add = key->add_subcommand(
      "add", "Add a key to every encrypted point (no data re-encrypted)");
  add->add_option("--key-file", args->key_file,
                  "The new key (0600, at least 32 bytes); made when it does "
                  "not exist")
      ->required();
  add->add_flag("--use", args->use,
                "Then read the points with it (the recorded key file)");
  AddScopeOptions(add, *args);
  add->callback([&global, args] {
    Repository repo(RequireRepo(global));
    const KeyScope scope = ScopeFrom(*args);
    const std::string path = Absolute(args->key_file);
    const std::string new_key = ReadOrMakeKey(path);
    Audited(repo, "key add", path, [&] {
      Print(AddKey(repo, scope, new_key), "Added the key to");
      if (args->use) {
        repo.OpenCatalogForWriting()->SetSetting(scope.Setting(), path);
        std::cout << "The points of " << scope.Describe() << " now read with "
                  << path << "\n";
      }
    });
  });

  auto* rm = key->add_subcommand(
      "rm", "Remove a key from every encrypted point that has it");
  rm->add_option("--key-file", args->key_file, "The key to remove")->required();
  AddScopeOptions(rm, *args);
  rm->callback([&global, args] {
    Repository repo(RequireRepo(global));
    const std::string path = Absolute(args->key_file);
    const std::string old_key = ReadKeyFile(path);
    Audited(repo, "key rm", path, [&] {
      Print(RemoveKey(repo, ScopeFrom(*args), old_key), "Removed the key from");
    });
  });

  auto* set = key->add_subcommand(
      "set",
      "Give a tenant or a VM its own key: its encrypted points get it, and "
      "its new points are encrypted with it");
  set->add_option("--key-file", args->key_file,
                  "Its key (0600, at least 32 bytes); made when it does not "
                  "exist")
      ->required();
  AddScopeOptions(set, *args);
  set->callback([&global, args] {
    Repository repo(RequireRepo(global));
    const KeyScope scope = ScopeFrom(*args);
    const std::string path = Absolute(args->key_file);
    if (scope.kind == KeyScope::Kind::kRepository) {
      throw Error(ErrorKind::kInvalidArgument,
                  "key set needs --tenant T or --vm V (the repository's key "
                  "changes with key add --use)");
    }
    const std::string new_key = ReadOrMakeKey(path);
    Audited(repo, "key set", scope.Describe() + " " + path, [&] {
      Print(SetScopeKey(repo, scope, path, new_key), "Added the key to");
      std::cout << "New points of " << scope.Describe()
                << " are encrypted with " << path << "\n";
    });
  });

  auto* list = key->add_subcommand(
      "list", "Which keys open the encrypted points of a scope");
  list->add_option("--key-file", args->key_files,
                   "Also check these keys (repeatable)");
  list->add_flag("--json", args->json, "Print JSON");
  AddScopeOptions(list, *args);
  list->callback([&global, args] {
    Repository repo(RequireRepo(global));
    std::vector<std::string> files;
    for (const auto& f : args->key_files) {
      files.push_back(Absolute(f));
    }
    const KeyListing l = ListKeys(repo, ScopeFrom(*args), files);
    if (args->json) {
      std::cout << ToJson(l).dump(2) << "\n";
    } else {
      PrintListing(l);
    }
  });

  auto* exp = key->add_subcommand(
      "export", "Print the key in use, to keep offline (--paper)");
  exp->add_flag("--paper", args->paper,
                "As a sheet to print: groups of 4 with a check per line")
      ->required();
  AddScopeOptions(exp, *args);
  exp->callback([&global, args] {
    Repository repo(RequireRepo(global));
    const RepositoryKey k = LoadScopeKey(repo, ScopeFrom(*args));
    const std::string passphrase = RequireKey(k);
    Audited(repo, "key export", k.file, [&] {
      std::cout << PaperKey({k.scope.Describe(), repo.path(),
                             k.typed ? "none (typed at the prompt)" : k.file,
                             passphrase, NowIso()});
    });
  });
}

}  // namespace sendense::cli
