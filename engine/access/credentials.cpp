#include "engine/access/credentials.h"

#include <security/pam_appl.h>
#include <sodium.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "engine/error.h"

namespace sendense::access {
namespace {

void InitSodium() {
  static const int ok = sodium_init();
  if (ok < 0) {
    throw Error(ErrorKind::kIo, "libsodium could not start");
  }
}

std::string Hex(const unsigned char* bytes, size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), bytes, n);
  out.pop_back();
  return out;
}

// Answers PAM's password prompts with the password given; anything else
// it asks is refused.
int Converse(int n,
             const struct pam_message** msg,
             struct pam_response** resp,
             void* password) {
  auto* replies =
      static_cast<pam_response*>(std::calloc(n, sizeof(pam_response)));
  if (replies == nullptr) {
    return PAM_BUF_ERR;
  }
  for (int i = 0; i < n; ++i) {
    if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF) {
      replies[i].resp = ::strdup(static_cast<const char*>(password));
    } else if (msg[i]->msg_style == PAM_PROMPT_ECHO_ON) {
      for (int j = 0; j < i; ++j) {
        std::free(replies[j].resp);
      }
      std::free(replies);
      return PAM_CONV_ERR;
    }
  }
  *resp = replies;
  return PAM_SUCCESS;
}

}  // namespace

std::string HashPassword(const std::string& password) {
  InitSodium();
  if (password.size() < 8) {
    throw Error(ErrorKind::kInvalidArgument,
                "a password needs at least 8 characters");
  }
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(),
                        crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    throw Error(ErrorKind::kNoSpace, "not enough memory to hash a password");
  }
  return out;
}

bool PasswordMatches(const std::string& hash, const std::string& password) {
  InitSodium();
  if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES) {
    return false;
  }
  return crypto_pwhash_str_verify(hash.c_str(), password.data(),
                                  password.size()) == 0;
}

bool PamAccepts(const std::string& account, const std::string& password) {
  std::string copy = password;
  const pam_conv conv{Converse, copy.data()};
  pam_handle_t* pam = nullptr;
  if (pam_start("sendense", account.c_str(), &conv, &pam) != PAM_SUCCESS) {
    return false;
  }
  int rc = pam_authenticate(pam, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
  if (rc == PAM_SUCCESS) {
    rc = pam_acct_mgmt(pam, PAM_SILENT);
  }
  pam_end(pam, rc);
  sodium_memzero(copy.data(), copy.size());
  return rc == PAM_SUCCESS;
}

std::string NewTokenSecret() {
  return "sendense_" + RandomHex(32);
}

std::string TokenHash(const std::string& secret) {
  InitSodium();
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest,
                     reinterpret_cast<const unsigned char*>(secret.data()),
                     secret.size());
  return Hex(digest, sizeof digest);
}

bool SameSecret(const std::string& given, const std::string& expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < given.size(); ++i) {
    diff |= static_cast<unsigned char>(
        given[i] ^ expected[i % (expected.empty() ? 1 : expected.size())]);
  }
  return diff == 0 && !expected.empty();
}

std::string RandomHex(size_t bytes) {
  InitSodium();
  std::vector<unsigned char> buf(bytes);
  randombytes_buf(buf.data(), buf.size());
  return Hex(buf.data(), buf.size());
}

}  // namespace sendense::access
