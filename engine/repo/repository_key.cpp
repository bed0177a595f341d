#include "engine/repo/repository_key.h"

#include <sys/random.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/catalog/names.h"
#include "engine/error.h"
#include "engine/io/file.h"

namespace sendense {
namespace {

constexpr size_t kMinKeyBytes = 32;

}  // namespace

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
  static const char* hex = "0123456789abcdef";
  std::string key;
  for (unsigned char b : bytes) {
    key += hex[b >> 4];
    key += hex[b & 15];
  }
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
