#pragma once

// key export --paper: a key as a sheet to print and keep offline, as PBS's
// paper key. Typed back, it is the key file again, byte for byte.

#include <string>

namespace sendense {

struct PaperKeyInput {
  std::string scope;  // "the repository", "tenant acme"
  std::string repo;   // the repository's path
  std::string file;   // the key file
  std::string key;    // its content
  std::string now;    // ISO time of the export
};

// The sheet: a key of printable text is shown as it is, in groups of 4
// characters, 32 to a line, each line with a check of its own (the first
// 4 hex digits of its SHA-256), so that a typing error is found on its
// line; any other key as hex digits (restored with xxd -r -p). Then the
// check of the whole key and how to write the file again.
std::string PaperKey(const PaperKeyInput& in);

}  // namespace sendense
