#include "web/url.h"

#include <cctype>
#include <sstream>

#include "engine/error.h"

namespace sendense::web {
namespace {

// %XX escapes decoded (and '+' as a space when `plus_is_space`); Error
// kInvalidArgument for a bad escape or a NUL.
std::string PercentDecode(const std::string& text, bool plus_is_space) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      if (i + 2 >= text.size() ||
          !std::isxdigit(static_cast<unsigned char>(text[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
        throw Error(ErrorKind::kInvalidArgument, "bad %-escape in the path");
      }
      out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += plus_is_space && text[i] == '+' ? ' ' : text[i];
    }
  }
  if (out.find('\0') != std::string::npos) {
    throw Error(ErrorKind::kInvalidArgument, "the request holds a NUL byte");
  }
  return out;
}

}  // namespace

std::vector<std::string> SplitPath(const std::string& target,
                                   std::string* query) {
  const auto q = target.find('?');
  if (query != nullptr) {
    *query = q == std::string::npos ? "" : target.substr(q + 1);
  }
  const std::string path = target.substr(0, q);
  std::vector<std::string> parts;
  size_t start = 1;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const auto end = slash == std::string::npos ? path.size() : slash;
    parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  if (!parts.empty() && parts.back().empty()) {
    parts.pop_back();  // a trailing slash
  }
  return parts;
}

std::string DecodeSegment(const std::string& segment) {
  const std::string out = PercentDecode(segment, false);
  if (out.find('/') != std::string::npos || out == "." || out == ".." ||
      out.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                "the path holds an empty, '.', '..', '/' or NUL segment");
  }
  return out;
}

int64_t ParseId(const std::string& text, const std::string& what) {
  if (text.empty() || text.size() > 18 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    throw Error(ErrorKind::kInvalidArgument, "a " + what + " id is a number");
  }
  return std::stoll(text);
}

std::string QueryParam(const std::string& query, const std::string& key) {
  std::istringstream in(query);
  std::string pair;
  while (std::getline(in, pair, '&')) {
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == key) {
      return eq == std::string::npos ? ""
                                     : PercentDecode(pair.substr(eq + 1), true);
    }
  }
  return "";
}

}  // namespace sendense::web
