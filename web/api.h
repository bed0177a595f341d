#pragma once

#include <string>

#include "engine/access/principal.h"
#include "engine/browse/namespace.h"
#include "engine/guest/appliance_pool.h"
#include "engine/jobs/job_runner.h"
#include "engine/repo/catalog_pool.h"
#include "engine/repo/repository.h"
#include "web/download_links.h"
#include "web/http_server.h"
#include "web/sessions.h"

namespace sendense::web {

// What the API works on; owned by `serve`.
struct ApiContext {
  const Repository& repo;
  // The appliance's own token (REPO/api-token); users' tokens and
  // sessions are checked in the catalog and in `sessions`.
  std::string token;
  JobRunner& jobs;
  guest::AppliancePool& appliances;
  CatalogPool& catalogs;
  browse::Namespace& ns;         // guest files: the same namespace as the tree
  std::string restore_dir = "";  // where API restores may write files
  std::string export_tls_dir = "";  // lets exports listen beyond loopback
  DownloadLinks links{};            // one-time links for browser downloads
  Sessions sessions{};              // dashboard sign-ins
  SignInGuard sign_ins{};           // failed sign-ins per address
  bool tls = false;                 // cookies are Secure over TLS
  // Users' tokens resolved by this process (cleared when accounts change).
  access::TokenCache tokens{Accounts::GenerationPath(repo.CatalogPath())};
};

// The HTTP API under /api/v1 (and /metrics), JSON in and out, for the
// client at `peer`: the route table (web/routes.h) says what each path
// does and who may; the caller is who its bearer token or session cookie
// says; another tenant's objects are never found (404); changes are
// recorded in the audit log; errors become a status here, in one place.
Response HandleApi(ApiContext& ctx,
                   const Request& req,
                   const std::string& peer);

// Routes a request for `who`, who proved it another way (a redeemed
// download link), with every check but the credential's.
Response RouteAuthenticated(ApiContext& ctx,
                            const Request& req,
                            const access::Principal& who,
                            const std::string& peer);

}  // namespace sendense::web
