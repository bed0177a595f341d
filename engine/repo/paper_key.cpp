#include "engine/repo/paper_key.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>

namespace sendense {
namespace {

std::string Sha256Hex(const std::string& data, size_t digits) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out, &n, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned int i = 0; i < n && s.size() < digits; ++i) {
    s += hex[out[i] >> 4];
    s += hex[out[i] & 15];
  }
  return s.substr(0, digits);
}

bool Printable(const std::string& key) {
  return std::all_of(key.begin(), key.end(), [](char c) {
    return std::isgraph(static_cast<unsigned char>(c)) != 0;
  });
}

}  // namespace

std::string PaperKey(const PaperKeyInput& in) {
  const bool text = Printable(in.key);
  std::string shown;
  if (text) {
    shown = in.key;
  } else {
    static const char* hex = "0123456789abcdef";
    for (unsigned char c : in.key) {
      shown += hex[c >> 4];
      shown += hex[c & 15];
    }
  }
  std::string out = "Sendense key of " + in.scope +
                    ": keep this sheet offline, away from the backups\n";
  out += "Repository: " + in.repo + "\n";
  out += "Key file:   " + in.file + " (" + std::to_string(in.key.size()) +
         " bytes" + (text ? "" : ", shown as hex") + ")\n";
  out += "Printed:    " + in.now + "\n\n";
  constexpr size_t kLine = 32, kGroup = 4;
  for (size_t at = 0, n = 1; at < shown.size(); at += kLine, ++n) {
    const std::string line = shown.substr(at, kLine);
    std::string grouped;
    for (size_t g = 0; g < line.size(); g += kGroup) {
      grouped += (g == 0 ? "" : " ") + line.substr(g, kGroup);
    }
    std::string number = std::to_string(n);
    number.insert(0, 3 - std::min<size_t>(3, number.size()), ' ');
    grouped.resize(kLine + kLine / kGroup - 1, ' ');
    out += number + "  " + grouped + "   check " + Sha256Hex(line, 4) + "\n";
  }
  out += "\nCheck of the whole key: " + Sha256Hex(shown, 16) + "\n";
  out += "To make the key file again, type each line without its spaces:\n";
  out += text ? "  printf '%s' 'THE KEY' > FILE && chmod 600 FILE\n"
              : "  printf '%s' 'THE HEX DIGITS' | xxd -r -p > FILE && "
                "chmod 600 FILE\n";
  out +=
      "(the check of each line and of the whole key is the start of the "
      "SHA-256 of what is typed: printf '%s' LINE | sha256sum)\n";
  return out;
}

}  // namespace sendense
