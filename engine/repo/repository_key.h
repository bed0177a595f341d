#pragma once

// The key of an encrypted repository (init --encrypt; docs/encryption.md):
// a key file whose content, byte for byte, is the LUKS passphrase of every
// point's key slot, so that `qemu-img --object secret,id=k,file=KEYFILE`
// reads the points too. It lives outside the repository: a copy of the
// repository, a second repository or a bucket never holds it.

#include <functional>
#include <string>

#include "engine/repo/repository.h"

namespace sendense {

// Whose key: the repository's (every VM without one of its own), a
// tenant's (its VMs), or one VM's (key set --vm|--tenant).
struct KeyScope {
  enum class Kind { kRepository, kTenant, kVm };
  Kind kind = Kind::kRepository;
  std::string name;  // the tenant's or the VM's
  // "the repository", "tenant acme", "VM web1@acme"
  std::string Describe() const;
  // The setting that records its key file: "key_file",
  // "key_file@tenant:acme", "key_file@vm:web1@acme".
  std::string Setting() const;
  bool operator==(const KeyScope&) const = default;
};

struct RepositoryKey {
  KeyScope scope;
  bool encrypts = false;   // new points are encrypted
  std::string passphrase;  // "" when no key could be read
  std::string file;        // the key file used, or looked for
  std::string problem;     // why there is no key ("" when there is one)
  bool typed = false;      // typed at the prompt (`file` is its copy)
};

// Where a scope's key comes from, first found. The repository's:
// SENDENSE_KEY_FILE, a systemd credential ($CREDENTIALS_DIRECTORY/
// sendense-key), the key file recorded by init; then, with a secret
// prompt set (a command on a terminal), the passphrase of a repository
// made with one (its key derived from it, PassphraseKey), or the key
// itself (the recovery key) when its key file cannot be read. A typed
// key is asked once per process and kept in a private file on tmpfs
// (`file`, removed at exit) for qemu-nbd. A tenant's: the
// credential sendense-key@TENANT, the file recorded by key set. A VM's:
// the file recorded by key set. Never throws for a missing key: `problem`
// says why.
RepositoryKey LoadScopeKey(const Repository& repo, const KeyScope& scope);
RepositoryKey LoadRepositoryKey(const Repository& repo);

// Whose key `vm` uses: its own, else its tenant's, else the repository's.
KeyScope ScopeOf(const Repository& repo, const std::string& vm);
// The key of `vm`'s points (LoadScopeKey of ScopeOf).
RepositoryKey LoadKey(const Repository& repo, const std::string& vm);

// Asks for a secret without echo: set by the CLI for commands run on a
// terminal; unset (the default), nothing is ever asked (the daemon).
using SecretPrompt = std::function<std::string(const std::string& prompt)>;
void SetSecretPrompt(SecretPrompt prompt);

// The key of a passphrase repository (init --encrypt --passphrase): 64
// hex digits of Argon2id(passphrase, salt) at libsodium's moderate
// limits, made once per process; the points' slots hold it as any key.
std::string PassphraseKey(const std::string& passphrase,
                          const std::string& salt_hex);
// A new salt for PassphraseKey (32 hex digits).
std::string NewPassphraseSalt();

// The key, or Error kDenied with the sentence of `problem` (for what must
// write or read encrypted data: a backup, a restore).
std::string RequireKey(const RepositoryKey& key);

// A key file's content: Error kInvalidArgument in one sentence when it
// cannot be read, others can read it (not 0600), or it holds fewer than
// 32 bytes.
std::string ReadKeyFile(const std::string& path);

// A new key file at `path` (which must not exist) of 64 random hex
// digits, mode 0600; returns them.
std::string GenerateKeyFile(const std::string& path);

}  // namespace sendense
