#include "engine/repo/repository_key.h"

#include <sodium.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>

#include "engine/catalog/names.h"
#include "engine/error.h"
#include "engine/io/file.h"

namespace sendense {
namespace {

constexpr size_t kMinKeyBytes = 32;

std::string Hex(const unsigned char* bytes, size_t n) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += hex[bytes[i] >> 4];
    out += hex[bytes[i] & 15];
  }
  return out;
}

// Keys typed at a prompt, by repository path, for this process; their
// private files (tmpfs, 0700 folder, 0600 file) go at exit.
struct TypedKey {
  std::string passphrase, file;
};
struct TypedKeys {
  std::mutex mutex;
  SecretPrompt prompt;
  std::map<std::string, TypedKey> by_repo;
  ~TypedKeys() {
    for (const auto& [repo, key] : by_repo) {
      std::error_code ec;
      std::filesystem::remove_all(std::filesystem::path(key.file).parent_path(),
                                  ec);
    }
  }
};
TypedKeys& Typed() {
  static TypedKeys typed;
  return typed;
}

std::string WritePrivateKeyFile(const std::string& key) {
  std::string dir = std::filesystem::is_directory("/dev/shm")
                        ? "/dev/shm/sendense-key-XXXXXX"
                        : "/tmp/sendense-key-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) {
    ThrowSystemError("cannot make a private folder for the typed key");
  }
  File f = File::CreateExclusive(dir + "/key", 0600);
  f.WriteAll(std::as_bytes(std::span(key)), 0);
  return dir + "/key";
}

// The repository's key asked at the prompt: its passphrase (with `salt`)
// or the key itself; `key` is returned with its problem when it cannot be.
RepositoryKey AskKey(const Repository& repo,
                     RepositoryKey key,
                     const std::optional<std::string>& salt) {
  TypedKeys& typed = Typed();
  std::lock_guard lock(typed.mutex);
  auto it = typed.by_repo.find(repo.path());
  if (it == typed.by_repo.end()) {
    if (!typed.prompt) {
      if (salt) {
        key.problem =
            "its key is derived from a passphrase: run the command on a "
            "terminal to be asked for it, or set SENDENSE_KEY_FILE to a "
            "file holding the key (key export --paper prints it)";
      }
      return key;
    }
    const std::string answer =
        typed.prompt(salt ? "Passphrase of " + repo.path() + ": "
                          : key.problem + ". Key of " + repo.path() +
                                " (its recovery key): ");
    if (answer.empty()) {
      key.problem = salt ? "no passphrase was given" : "no key was given";
      return key;
    }
    const std::string passphrase = salt ? PassphraseKey(answer, *salt) : answer;
    it = typed.by_repo
             .emplace(repo.path(),
                      TypedKey{passphrase, WritePrivateKeyFile(passphrase)})
             .first;
  }
  key.passphrase = it->second.passphrase;
  key.file = it->second.file;
  key.typed = true;
  key.problem.clear();
  return key;
}

}  // namespace

void SetSecretPrompt(SecretPrompt prompt) {
  TypedKeys& typed = Typed();
  std::lock_guard lock(typed.mutex);
  typed.prompt = std::move(prompt);
}

std::string NewPassphraseSalt() {
  unsigned char salt[crypto_pwhash_SALTBYTES];
  if (::getrandom(salt, sizeof salt, 0) != sizeof salt) {
    ThrowSystemError("getrandom failed");
  }
  return Hex(salt, sizeof salt);
}

std::string PassphraseKey(const std::string& passphrase,
                          const std::string& salt_hex) {
  static const int ready = sodium_init();
  unsigned char salt[crypto_pwhash_SALTBYTES];
  size_t n = 0;
  if (ready < 0 ||
      sodium_hex2bin(salt, sizeof salt, salt_hex.data(), salt_hex.size(),
                     nullptr, &n, nullptr) != 0 ||
      n != sizeof salt) {
    throw Error(ErrorKind::kCorrupt,
                "the repository's passphrase salt is damaged (setting "
                "key_passphrase_salt)");
  }
  unsigned char key[32];
  if (crypto_pwhash(key, sizeof key, passphrase.data(), passphrase.size(), salt,
                    crypto_pwhash_OPSLIMIT_MODERATE,
                    crypto_pwhash_MEMLIMIT_MODERATE,
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    throw Error(ErrorKind::kNoSpace,
                "not enough memory to derive the key of the passphrase "
                "(Argon2id takes 256 MiB)");
  }
  const std::string out = Hex(key, sizeof key);
  sodium_memzero(key, sizeof key);
  return out;
}

std::string ReadKeyFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw Error(ErrorKind::kInvalidArgument,
                "cannot read the key file " + path);
  }
  if ((st.st_mode & 077) != 0) {
    throw Error(
        ErrorKind::kInvalidArgument,
        "the key file " + path + " can be read by others: chmod 600 it");
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) {
    throw Error(ErrorKind::kInvalidArgument,
                "cannot read the key file " + path);
  }
  std::string key = text.str();
  if (key.size() < kMinKeyBytes) {
    throw Error(ErrorKind::kInvalidArgument,
                "the key file " + path + " holds " +
                    std::to_string(key.size()) +
                    " bytes; a key is at least 32 random bytes (init "
                    "--encrypt --key-file NEWFILE makes one)");
  }
  return key;
}

std::string GenerateKeyFile(const std::string& path) {
  unsigned char bytes[32];
  if (::getrandom(bytes, sizeof bytes, 0) != sizeof bytes) {
    ThrowSystemError("getrandom failed");
  }
  const std::string key = Hex(bytes, sizeof bytes);
  File f = File::CreateExclusive(path, 0600);
  f.WriteAll(std::as_bytes(std::span(key)), 0);  // no newline: qemu reads all
  f.Sync();
  return key;
}

std::string KeyScope::Describe() const {
  switch (kind) {
    case Kind::kTenant:
      return "tenant " + name;
    case Kind::kVm:
      return "VM " + name;
    default:
      return "the repository";
  }
}

std::string KeyScope::Setting() const {
  switch (kind) {
    case Kind::kTenant:
      return "key_file@tenant:" + name;
    case Kind::kVm:
      return "key_file@vm:" + name;
    default:
      return "key_file";
  }
}

RepositoryKey LoadScopeKey(const Repository& repo, const KeyScope& scope) {
  RepositoryKey key;
  key.scope = scope;
  const auto catalog = repo.OpenCatalog();
  std::string file = catalog->Setting(scope.Setting()).value_or("");
  const char* creds = std::getenv("CREDENTIALS_DIRECTORY");
  const std::string credential =
      creds == nullptr || *creds == '\0'
          ? ""
          : std::string(creds) + "/sendense-key" +
                (scope.kind == KeyScope::Kind::kTenant ? "@" + scope.name : "");
  if (scope.kind == KeyScope::Kind::kRepository) {
    key.encrypts = catalog->Setting("encryption").value_or("") == "luks";
    if (const char* env = std::getenv("SENDENSE_KEY_FILE");
        env != nullptr && *env != '\0') {
      file = env;
    } else if (!credential.empty() && std::filesystem::exists(credential)) {
      file = credential;
    }
  } else {
    key.encrypts = true;
    if (scope.kind == KeyScope::Kind::kTenant && !credential.empty() &&
        std::filesystem::exists(credential)) {
      file = credential;
    }
  }
  key.file = file;
  const auto salt = scope.kind == KeyScope::Kind::kRepository
                        ? catalog->Setting("key_passphrase_salt")
                        : std::nullopt;
  if (file.empty() && salt) {
    return AskKey(repo, key, salt);
  }
  if (file.empty()) {
    key.problem = scope.kind == KeyScope::Kind::kRepository
                      ? "no key file is set (init --encrypt --key-file FILE, "
                        "or SENDENSE_KEY_FILE)"
                      : "no key file is set for " + scope.Describe();
    return key;
  }
  try {
    key.passphrase = ReadKeyFile(file);
  } catch (const Error& e) {
    key.problem = e.what();
    if (scope.kind == KeyScope::Kind::kRepository && key.encrypts) {
      return AskKey(repo, key, std::nullopt);
    }
  }
  return key;
}

RepositoryKey LoadRepositoryKey(const Repository& repo) {
  return LoadScopeKey(repo, {});
}

KeyScope ScopeOf(const Repository& repo, const std::string& vm) {
  const auto catalog = repo.OpenCatalog();
  const KeyScope own{KeyScope::Kind::kVm, vm};
  if (catalog->Setting(own.Setting())) {
    return own;
  }
  const std::string tenant = TenantOf(vm);
  const KeyScope tenants{KeyScope::Kind::kTenant, tenant};
  if (!tenant.empty() && catalog->Setting(tenants.Setting())) {
    return tenants;
  }
  return {};
}

RepositoryKey LoadKey(const Repository& repo, const std::string& vm) {
  return LoadScopeKey(repo, ScopeOf(repo, vm));
}

std::string RequireKey(const RepositoryKey& key) {
  if (key.passphrase.empty()) {
    const std::string whose =
        key.scope.kind == KeyScope::Kind::kRepository
            ? "this repository's points are"
            : "the points of " + key.scope.Describe() + " are";
    throw Error(ErrorKind::kDenied,
                whose + " encrypted and its key is missing: " + key.problem);
  }
  return key.passphrase;
}

}  // namespace sendense
