#pragma once

#include <string>

#include "engine/browse/namespace.h"
#include "engine/guest/appliance_pool.h"
#include "engine/jobs/job_runner.h"
#include "engine/repo/catalog_pool.h"
#include "engine/repo/repository.h"
#include "web/download_links.h"
#include "web/http_server.h"

namespace sendense::web {

// What the API works on; owned by `serve`.
struct ApiContext {
  const Repository& repo;
  std::string token;  // the bearer token every route but health needs
  JobRunner& jobs;
  guest::AppliancePool& appliances;
  CatalogPool& catalogs;
  browse::Namespace& ns;         // guest files: the same namespace as the tree
  std::string restore_dir = "";  // where API restores may write files
  std::string export_tls_dir = "";  // lets exports listen beyond loopback
  DownloadLinks links{};            // one-time links for browser downloads
};

// The HTTP API under /api/v1 (and /metrics), JSON in and out. Thin: every
// route calls the engine; errors become a status in one place.
Response HandleApi(ApiContext& ctx, const Request& req);

// Percent-decodes one path segment; Error kInvalidArgument for a bad
// escape, a NUL, a '/' (from %2f) or a "." / ".." segment.
std::string DecodeSegment(const std::string& segment);

// The value of `key` in a query string ("a=1&b=2"), percent-decoded ('+'
// is a space); "" when absent. Error kInvalidArgument for a bad escape or
// a NUL.
std::string QueryParam(const std::string& query, const std::string& key);

// "bytes=A-B" of a file of `size`: the first and last byte, or nullopt for
// a range that cannot be served (416). Only single ranges.
struct ByteRange {
  uint64_t first = 0, last = 0;
};
std::optional<ByteRange> ParseRange(const std::string& header, uint64_t size);

}  // namespace sendense::web
