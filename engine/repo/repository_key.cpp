#include "engine/repo/repository_key.h"

#include <sys/random.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

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

RepositoryKey LoadRepositoryKey(const Repository& repo) {
  RepositoryKey key;
  const auto catalog = repo.OpenCatalog();
  key.encrypts = catalog->Setting("encryption").value_or("") == "luks";
  std::string file = catalog->Setting("key_file").value_or("");
  if (const char* env = std::getenv("SENDENSE_KEY_FILE");
      env != nullptr && *env != '\0') {
    file = env;
  } else if (const char* creds = std::getenv("CREDENTIALS_DIRECTORY");
             creds != nullptr && *creds != '\0' &&
             std::filesystem::exists(std::string(creds) + "/sendense-key")) {
    file = std::string(creds) + "/sendense-key";
  }
  key.file = file;
  if (file.empty()) {
    key.problem =
        "no key file is set (init --encrypt --key-file FILE, or "
        "SENDENSE_KEY_FILE)";
    return key;
  }
  try {
    key.passphrase = ReadKeyFile(file);
  } catch (const Error& e) {
    key.problem = e.what();
  }
  return key;
}

std::string RequireKey(const RepositoryKey& key) {
  if (key.passphrase.empty()) {
    throw Error(ErrorKind::kDenied,
                "this repository's points are encrypted and its key is "
                "missing: " +
                    key.problem);
  }
  return key.passphrase;
}

}  // namespace sendense
