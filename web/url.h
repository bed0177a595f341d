#pragma once

// The request target's parts: path segments and query parameters, decoded
// once and checked (no NUL, no "." or "..", no '/' hidden in an escape).

#include <cstdint>
#include <string>
#include <vector>

namespace sendense::web {

// "/a/b/?q" as {"a", "b"} (raw, still percent-encoded; a trailing slash
// adds nothing) and `*query` = "q".
std::vector<std::string> SplitPath(const std::string& target,
                                   std::string* query);

// Percent-decodes one path segment; Error kInvalidArgument for a bad
// escape, a NUL, a '/' (from %2f) or a "." / ".." segment.
std::string DecodeSegment(const std::string& segment);

// The value of `key` in a query string ("a=1&b=2"), percent-decoded ('+'
// is a space); "" when absent. Error kInvalidArgument for a bad escape or
// a NUL.
std::string QueryParam(const std::string& query, const std::string& key);

// A numeric id from a path segment; Error kInvalidArgument "a WHAT id is a
// number" otherwise.
int64_t ParseId(const std::string& text, const std::string& what);

}  // namespace sendense::web
