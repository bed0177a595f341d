#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/secret_input.h"
#include "cli/usage_errors.h"
#include "engine/error.h"
#include "engine/repo/immutability.h"
#include "engine/repo/repository.h"
#include "engine/repo/repository_key.h"

namespace sendense::cli {
namespace {
constexpr size_t kMinPassphrase = 12;
}  // namespace

void RegisterInit(CLI::App& app, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("init", "Create a new repository");
  auto days = std::make_shared<double>(0);
  cmd->add_option("--immutable-days", *days,
                  "Make every published point immutable for this many days "
                  "(the filesystem's immutable flag; ext4, XFS, btrfs)")
      ->check(Between(0, 36500, "days"));
  auto encrypt = std::make_shared<bool>(false);
  auto key_file = std::make_shared<std::string>();
  cmd->add_flag("--encrypt", *encrypt,
                "Encrypt every point (QCOW2 with LUKS, aes-xts-plain64)");
  cmd->add_option("--key-file", *key_file,
                  "The key (0600, at least 32 bytes); made with a random "
                  "key when it does not exist. qemu-img reads the points "
                  "with --object secret,id=k,file=FILE");
  auto passphrase = std::make_shared<bool>(false);
  cmd->add_flag("--passphrase", *passphrase,
                "Instead of a key file: a passphrase, asked twice on the "
                "terminal (or one line of stdin), from which the key is "
                "derived (Argon2id); commands ask for it");
  cmd->callback([&global, days, encrypt, key_file, passphrase] {
    const std::string& path = RequireRepo(global);
    if (*encrypt && key_file->empty() && !*passphrase) {
      throw Error(ErrorKind::kInvalidArgument,
                  "--encrypt needs --key-file FILE (an existing key, or "
                  "where to make a new one, outside the repository) or "
                  "--passphrase");
    }
    if (!*encrypt && (!key_file->empty() || *passphrase)) {
      throw Error(ErrorKind::kInvalidArgument,
                  std::string(*passphrase ? "--passphrase" : "--key-file") +
                      " goes with --encrypt");
    }
    if (*passphrase && !key_file->empty()) {
      throw Error(ErrorKind::kInvalidArgument,
                  "--passphrase or --key-file, not both");
    }
    std::string salt;
    if (*passphrase) {
      const std::string typed = NewSecret("Passphrase: ", "passphrase");
      if (typed.size() < kMinPassphrase) {
        throw Error(ErrorKind::kInvalidArgument,
                    "a passphrase has at least " +
                        std::to_string(kMinPassphrase) +
                        " characters; the repository was not created");
      }
      salt = NewPassphraseSalt();
    }
    std::string generated;
    std::string key_path;
    if (*encrypt && !*passphrase) {
      key_path = std::filesystem::absolute(*key_file).lexically_normal();
      const std::string repo_path =
          std::filesystem::absolute(path).lexically_normal();
      if (key_path.rfind(repo_path + "/", 0) == 0) {
        throw Error(ErrorKind::kInvalidArgument,
                    "the key file must live outside the repository (a copy "
                    "of the repository would carry its key)");
      }
      if (std::filesystem::exists(key_path)) {
        ReadKeyFile(key_path);  // checked before the repository exists
      } else {
        generated = GenerateKeyFile(key_path);
      }
    }
    Repository::Init(path);
    if (*encrypt) {
      auto catalog = Repository(path).OpenCatalogForWriting();
      catalog->SetSetting("encryption", "luks");
      catalog->SetSetting(*passphrase ? "key_passphrase_salt" : "key_file",
                          *passphrase ? salt : key_path);
    }
    if (*days > 0) {
      const std::string why = ImmutableSupport(path);
      if (!why.empty()) {
        // Nothing of it is in use yet: it was new or empty.
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(path, ec)) {
          std::filesystem::remove_all(e.path(), ec);
        }
        throw Error(ErrorKind::kUnsupported,
                    why + "; the repository was not created");
      }
      Repository repo(path);
      repo.OpenCatalogForWriting()->SetSetting("immutable_days",
                                               std::to_string(*days));
    }
    std::cout << "Initialised repository " << path << "\n"
              << "API token: " << Repository(path).TokenPath() << "\n";
    if (*passphrase) {
      std::cout << "Points are encrypted (LUKS, aes-xts-plain64) with a key "
                   "derived from the passphrase (Argon2id): commands on a "
                   "terminal ask for it; serve and mount read the key from "
                   "SENDENSE_KEY_FILE or a credential (key export --paper "
                   "prints it)\n";
    } else if (*encrypt) {
      std::cout << "Points are encrypted (LUKS, aes-xts-plain64) with the "
                   "key in "
                << key_path << "\n";
      if (!generated.empty()) {
        std::cout << "Recovery key (shown once: keep it offline; it is the "
                     "key file's content):\n  "
                  << generated << "\n";
      }
    }
    if (*days > 0) {
      std::cout << "Points are immutable for " << *days
                << (*days == 1 ? " day" : " days")
                << " after they are published\n";
    }
  });
}

}  // namespace sendense::cli
