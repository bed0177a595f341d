#pragma once

// What the S3 client's files share (internal to engine/s3): one HTTP
// exchange as the client sends it, and the small parsers of its answers.

#include <cstdint>
#include <map>
#include <string>

#include <pugixml.hpp>

#include "engine/s3/s3_client.h"

namespace sendense::s3 {

struct Client::Request {
  std::string method = "GET";
  std::string key;  // full key (with prefix); "" for the bucket itself
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;
  const std::string* body = nullptr;  // or a file range:
  std::string file;
  uint64_t offset = 0, length = 0;
  std::string out_file;  // GET into a file
  std::string what;      // "PUT of KEY", for errors
};

// The Object Lock headers of an upload, when `lock` has a mode.
inline void AddLock(std::map<std::string, std::string>& headers,
                    const Lock& lock) {
  if (!lock.mode.empty()) {
    headers["x-amz-object-lock-mode"] = lock.mode;
    headers["x-amz-object-lock-retain-until-date"] = lock.retain_until;
  }
}

inline std::string Unquote(std::string s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') {
    s = s.substr(1, s.size() - 2);
  }
  return s;
}

inline pugi::xml_document Xml(const std::string& body) {
  pugi::xml_document doc;
  doc.load_string(body.c_str());
  return doc;
}

}  // namespace sendense::s3
