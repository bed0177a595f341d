#pragma once

// The dashboard (docs/dashboard.md): static files compiled into the
// binary, served on the API's listener. The browser app calls the API with
// the bearer token like any client; these files need none (they hold no
// data).

#include <optional>

#include "web/http_server.h"

namespace sendense::web {

// GET or HEAD of "/ui/FILE": that file; of a page of the app ("/",
// "/jobs", "/search", "/vms/..."): the app's index.html, so that every
// page has a real URL (reload, back, bookmarks). nullopt for any other
// request (the API's).
std::optional<Response> ServeUi(const Request& req);

// The headers every reply carries: a Content-Security-Policy allowing
// only the dashboard's own scripts and styles (no inline script, no
// frames), nosniff, no referrer.
void AddSecurityHeaders(http::response_header<>& head);

}  // namespace sendense::web
