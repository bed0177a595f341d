#pragma once

// A small libcurl client for the API tests.

#include <map>
#include <string>
#include <vector>

namespace sendense::test {

struct HttpReply {
  long status = 0;     // 0 when no reply came
  bool whole = false;  // the transfer ended as HTTP says a body ends
  std::string error;   // libcurl's sentence when it did not
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

HttpReply Http(const std::string& method,
               const std::string& url,
               const std::vector<std::string>& headers = {},
               const std::string& body = "");

}  // namespace sendense::test
