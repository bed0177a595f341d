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

// The HTTP API under /api/v1 (and /metrics), JSON in and out: the route
// table (web/routes.h) says what each path does and who may; every route
// calls the engine; errors become a status here, in one place.
Response HandleApi(ApiContext& ctx, const Request& req);

// Routes a request whose caller has proven who it is another way (a
// redeemed download link), without the token.
Response RouteAuthenticated(ApiContext& ctx, const Request& req);

}  // namespace sendense::web
