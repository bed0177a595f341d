#include "engine/catalog/suspicion.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <set>

namespace sendense {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string Folder(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

std::string Extension(const std::string& name) {
  const size_t dot = name.rfind('.');
  return dot == std::string::npos || dot == 0 ? "" : Lower(name.substr(dot));
}

// Extensions ransomware families give the files they encrypt.
bool RansomExtension(const std::string& ext) {
  static const std::set<std::string> known = {
      ".locked", ".encrypted", ".enc",      ".crypt",  ".crypted",  ".cry",
      ".crypto", ".locky",     ".cerber",   ".wncry",  ".wnry",     ".wcry",
      ".ryk",    ".lockbit",   ".conti",    ".djvu",   ".stop",     ".zepto",
      ".odin",   ".thor",      ".aesir",    ".zzzzz",  ".micro",    ".xxx",
      ".ttt",    ".vvv",       ".ecc",      ".ezz",    ".exx",      ".rdm",
      ".rrk",    ".encrypt",   ".pay",      ".ransom", ".crinf",    ".r5a",
      ".xrtn",   ".xtbl",      ".cbf",      ".kraken", ".darkness", ".nochance",
      ".oops",   ".hive",      ".blackcat", ".akira",  ".royal",    ".phobos",
      ".makop",  ".babyk"};
  return known.contains(ext);
}

// Names ransom notes are given (lower case; * matches anything).
bool RansomNote(const std::string& name) {
  static const std::array<const char*, 14> patterns = {
      "*decrypt*.txt",   "*decrypt*.html",  "*decrypt*.hta",
      "*restore*files*", "*recover*files*", "how_to_*",
      "how-to-*",        "*_readme.txt",    "!!!*",
      "readme.locked*",  "*ransom*",        "*read_me*.txt",
      "*read-me*.txt",   "*your_files*"};
  const std::string n = Lower(name);
  for (const char* p : patterns) {
    // A tiny glob: '*' only.
    std::string pat = p;
    size_t ni = 0, pi = 0, star = std::string::npos, mark = 0;
    while (ni < n.size()) {
      if (pi < pat.size() && pat[pi] == n[ni]) {
        ++ni;
        ++pi;
      } else if (pi < pat.size() && pat[pi] == '*') {
        star = pi++;
        mark = ni;
      } else if (star != std::string::npos) {
        pi = star + 1;
        ni = ++mark;
      } else {
        break;
      }
    }
    while (pi < pat.size() && pat[pi] == '*') {
      ++pi;
    }
    if (ni == n.size() && pi == pat.size()) {
      return true;
    }
  }
  return false;
}

bool Regular(const GuestChange& c) {
  return (c.mode & S_IFMT) == S_IFREG;
}

std::string Percent(double share) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.0f%%", 100 * share);
  return buf;
}

}  // namespace

double Entropy(const std::string& data) {
  if (data.empty()) {
    return 0;
  }
  std::array<size_t, 256> counts{};
  for (unsigned char c : data) {
    ++counts[c];
  }
  double bits = 0;
  const double n = static_cast<double>(data.size());
  for (size_t c : counts) {
    if (c > 0) {
      const double p = static_cast<double>(c) / n;
      bits -= p * std::log2(p);
    }
  }
  return bits;
}

bool UsuallyDense(const std::string& name) {
  static const std::set<std::string> dense = {
      ".zip",  ".gz",    ".tgz",  ".bz2",     ".xz",  ".zst",  ".7z",
      ".rar",  ".jpg",   ".jpeg", ".png",     ".gif", ".webp", ".heic",
      ".mp3",  ".mp4",   ".mkv",  ".avi",     ".mov", ".ogg",  ".flac",
      ".pdf",  ".docx",  ".xlsx", ".pptx",    ".odt", ".ods",  ".jar",
      ".apk",  ".deb",   ".rpm",  ".iso",     ".gpg", ".pgp",  ".kdbx",
      ".woff", ".woff2", ".pack", ".squashfs"};
  return dense.contains(Extension(name));
}

std::vector<const GuestChange*> SampleCandidates(const GuestDiff& diff,
                                                 size_t limit) {
  std::vector<const GuestChange*> all;
  for (const auto& c : diff.changes) {
    const bool content =
        c.kind == GuestChange::Kind::kAdded ||
        c.kind == GuestChange::Kind::kRenamed ||
        std::find(c.what.begin(), c.what.end(), "content") != c.what.end();
    if (content && Regular(c) && c.size > 0 && !UsuallyDense(c.path) &&
        !RansomNote(BaseName(c.path))) {
      all.push_back(&c);
    }
  }
  if (all.size() <= limit) {
    return all;
  }
  std::vector<const GuestChange*> spread;
  for (size_t i = 0; i < limit; ++i) {
    spread.push_back(all[i * all.size() / limit]);
  }
  return spread;
}

SuspicionReport CheckSuspicion(const GuestDiff& diff,
                               size_t regular_files_before,
                               double usual_share,
                               const std::vector<EntropySample>& samples) {
  SuspicionReport r;
  std::set<std::string> note_folders;
  std::set<std::string> note_names;
  size_t touched = 0;
  for (const auto& c : diff.changes) {
    if (!Regular(c)) {
      continue;
    }
    const std::string name = BaseName(c.path);
    switch (c.kind) {
      case GuestChange::Kind::kAdded:
        if (RansomNote(name)) {
          ++r.ransom_notes;
          note_folders.insert(Folder(c.path));
          note_names.insert(name);
        } else if (RansomExtension(Extension(name))) {
          ++r.ransom_renames;  // written anew under the new name
        }
        break;
      case GuestChange::Kind::kRenamed:
        ++touched;
        if (RansomExtension(Extension(name)) &&
            !RansomExtension(Extension(BaseName(c.from_path)))) {
          ++r.ransom_renames;
        }
        break;
      default:
        ++touched;
    }
  }
  r.changed_share = regular_files_before == 0
                        ? 0
                        : static_cast<double>(touched) /
                              static_cast<double>(regular_files_before);
  r.sampled = samples.size();
  for (const auto& s : samples) {
    r.high_entropy += s.bits_per_byte > 7.5;
  }
  if (!note_names.empty() &&
      (note_folders.size() >= 3 || r.ransom_renames > 0)) {
    r.reasons.push_back(std::to_string(r.ransom_notes) +
                        " ransom note(s) added (" + *note_names.begin() +
                        (note_names.size() > 1 ? ", ..." : "") + ") in " +
                        std::to_string(note_folders.size()) + " folder(s)");
  }
  const size_t rename_floor = std::max<size_t>(10, regular_files_before / 20);
  if (r.ransom_renames >= rename_floor) {
    r.reasons.push_back(std::to_string(r.ransom_renames) +
                        " files renamed or written with a ransomware "
                        "extension");
  }
  const double mass = std::max(0.3, 5 * usual_share);
  if (r.changed_share >= mass && r.sampled >= 5 &&
      2 * r.high_entropy >= r.sampled) {
    r.reasons.push_back(
        Percent(r.changed_share) + " of the files changed (usually " +
        Percent(usual_share) + "), and " + std::to_string(r.high_entropy) +
        " of " + std::to_string(r.sampled) +
        " sampled look encrypted (entropy above 7.5 "
        "bits/byte)");
  }
  r.suspicious = !r.reasons.empty();
  return r;
}

nlohmann::json SuspicionJson(const SuspicionReport& r,
                             const std::string& compared_with) {
  return {{"state", r.suspicious ? "suspicious" : "clean"},
          {"reasons", r.reasons},
          {"changed_share", r.changed_share},
          {"ransom_notes", r.ransom_notes},
          {"ransom_renames", r.ransom_renames},
          {"sampled", r.sampled},
          {"high_entropy", r.high_entropy},
          {"compared_with", compared_with}};
}

}  // namespace sendense
