#pragma once

#include <string>

namespace sendense::access {

// Argon2id (libsodium's crypto_pwhash_str, its "interactive" limits: 64
// MiB, about a tenth of a second here): the hash carries its salt and
// parameters. Error kInvalidArgument for a password shorter than 8
// characters.
std::string HashPassword(const std::string& password);
// Whether `password` is the one `hash` was made from (constant time).
bool PasswordMatches(const std::string& hash, const std::string& password);

// Whether the Linux account `account` takes `password`, through PAM (the
// "sendense" service; Debian's "other" when it has no file of its own).
bool PamAccepts(const std::string& account, const std::string& password);

// A new API token's secret: "sendense_" and 64 hex digits from the
// kernel's random source. Only TokenHash(secret) is stored.
std::string NewTokenSecret();
// SHA-256 of a token's secret, hex: secrets are random, so a fast hash
// is enough, and it can be looked up.
std::string TokenHash(const std::string& secret);

// Whether two secrets are equal, in a time that depends on neither's
// content; an empty `expected` matches nothing.
bool SameSecret(const std::string& given, const std::string& expected);

// 16 random bytes as hex: session ids, CSRF tokens.
std::string RandomHex(size_t bytes = 16);

}  // namespace sendense::access
