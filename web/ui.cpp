#include "web/ui.h"

#include <cstdio>
#include <map>
#include <string>
#include <string_view>

#include "web/ui_assets.h"

namespace sendense::web {
namespace {

std::string_view ContentType(std::string_view path) {
  const auto ends = [&path](std::string_view suffix) {
    return path.size() >= suffix.size() &&
           path.substr(path.size() - suffix.size()) == suffix;
  };
  if (ends(".html")) {
    return "text/html; charset=utf-8";
  }
  if (ends(".js")) {
    return "text/javascript; charset=utf-8";
  }
  if (ends(".css")) {
    return "text/css; charset=utf-8";
  }
  if (ends(".svg")) {
    return "image/svg+xml";
  }
  return "application/octet-stream";
}

// A strong validator of the content (FNV-1a): revalidated on each load,
// answered 304 while the binary is the same.
std::string ETag(std::string_view body) {
  uint64_t hash = 14695981039346656037ull;
  for (const char c : body) {
    hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  }
  char text[24];
  std::snprintf(text, sizeof text, "\"%016llx\"",
                static_cast<unsigned long long>(hash));
  return text;
}

// Each file's ETag, computed once: the files are fixed in the binary.
const std::string& ETagOf(const UiAsset& asset) {
  static const std::map<std::string_view, std::string> etags = [] {
    std::map<std::string_view, std::string> out;
    for (const auto& a : UiAssets()) {
      out.emplace(a.path, ETag(a.body));
    }
    return out;
  }();
  return etags.at(asset.path);
}

const UiAsset* Find(std::string_view path) {
  for (const auto& asset : UiAssets()) {
    if (asset.path == path) {
      return &asset;
    }
  }
  return nullptr;
}

bool IsAppPage(std::string_view path) {
  return path == "/" || path == "/jobs" || path == "/search" ||
         path == "/vms" || path.rfind("/vms/", 0) == 0;
}

}  // namespace

std::optional<Response> ServeUi(const Request& req) {
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    return std::nullopt;
  }
  const std::string_view target(req.target().data(), req.target().size());
  const std::string_view path = target.substr(0, target.find('?'));
  const UiAsset* asset = nullptr;
  if (path.rfind("/ui/", 0) == 0) {
    asset = Find(path);
    if (asset == nullptr) {
      return Response{
          404, "text/plain; charset=utf-8", "no such file\n", {}, 0, nullptr};
    }
  } else if (IsAppPage(path)) {
    asset = Find("/ui/index.html");
  } else {
    return std::nullopt;
  }
  const std::string& etag = ETagOf(*asset);
  Response out;
  out.content_type = ContentType(asset->path);
  out.headers = {{"Cache-Control", "no-cache"}, {"ETag", etag}};
  const auto match = req.find(http::field::if_none_match);
  if (match != req.end() && std::string(match->value()) == etag) {
    out.status = 304;
    return out;
  }
  out.body = std::string(asset->body);
  return out;
}

void AddSecurityHeaders(http::response_header<>& head) {
  head.set("Content-Security-Policy",
           "default-src 'none'; script-src 'self'; style-src 'self'; "
           "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
           "form-action 'none'; frame-ancestors 'none'");
  head.set("X-Content-Type-Options", "nosniff");
  head.set("Referrer-Policy", "no-referrer");
  head.set("X-Frame-Options", "DENY");
  head.set("Cross-Origin-Opener-Policy", "same-origin");
}

}  // namespace sendense::web
