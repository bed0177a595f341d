#include "web/files_api.h"

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "engine/browse/archive.h"
#include "engine/catalog/catalog.h"
#include "engine/catalog/file_history.h"
#include "engine/error.h"
#include "web/api_json.h"
#include "web/url.h"

namespace sendense::web {
namespace {

using json = nlohmann::json;

// A JSON string, with bytes that are not UTF-8 as U+FFFD.
std::string JsonString(const std::string& s) {
  return json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

// A guest entry as JSON text, written directly: a folder's listing may
// hold 100,000 of them, and building a json tree first costs more than
// the query. Keys in the order json objects print them.
void AppendEntry(std::string& out,
                 const std::string& name,
                 const std::string& path,
                 const browse::Attr& a) {
  const auto number = [&out](const char* key, auto value) {
    out += key;
    out += std::to_string(value);
  };
  number("{\"gid\":", a.gid);
  number(",\"mode\":", a.mode & 07777);
  number(",\"mtime_ns\":", a.mtime_ns);
  out += ",\"name\":" + JsonString(name);
  number(",\"nlink\":", a.nlink);
  out += ",\"path\":" + JsonString(path);
  if (!a.read_path.empty()) {
    out += ",\"read_path\":\"" + a.read_path + "\"";
  }
  number(",\"size\":", a.size);
  if ((a.mode & S_IFMT) == S_IFLNK) {
    out += ",\"target\":" + JsonString(a.target);
  }
  out += ",\"type\":\"";
  out += GuestTypeName(a.mode);
  number("\",\"uid\":", a.uid);
  out += '}';
}

// An entry as JSON text; a folder with its "children".
// A folder's children come in pages: at most `limit` after the child id
// `after` (0: from the start).
struct Page {
  int64_t after = 0;
  size_t limit = 1000;
};

// "after" and "limit" of a query; Error kInvalidArgument when malformed.
Page ParsePage(const std::string& query) {
  Page page;
  const std::string after = QueryParam(query, "after");
  const std::string limit = QueryParam(query, "limit");
  try {
    size_t used = 0;
    if (!after.empty()) {
      page.after = std::stoll(after, &used);
      if (used != after.size() || page.after < 0) {
        throw std::invalid_argument("after");
      }
    }
    if (!limit.empty()) {
      page.limit = std::stoul(limit, &used);
      if (used != limit.size() || page.limit < 1 || page.limit > 10000) {
        throw std::invalid_argument("limit");
      }
    }
  } catch (const std::exception&) {
    throw Error(ErrorKind::kInvalidArgument,
                "after must be a next_after from a previous page, and limit 1 "
                "to 10000");
  }
  return page;
}

// An entry as JSON text; a folder with one page of its "children" and,
// when more follow, "next_after" to ask for the next page with.
std::string EntryText(browse::Namespace& ns,
                      const browse::Attr& a,
                      const std::string& name,
                      const std::string& path,
                      const Page& page) {
  std::string text;
  AppendEntry(text, name, path, a);
  if ((a.mode & S_IFMT) == S_IFDIR) {
    text.pop_back();  // the folder's '}': its children follow
    text += ",\"children\":[";
    const auto listing =
        ns.List(a.id, static_cast<uint64_t>(page.after), page.limit);
    const std::string prefix = path == "/" ? path : path + "/";
    for (const auto& c : listing.entries) {
      if (&c != &listing.entries.front()) {
        text += ',';
      }
      AppendEntry(text, c.name, prefix + c.name, c.attr);
    }
    text += ']';
    if (listing.more) {
      text +=
          ",\"next_after\":" + std::to_string(listing.entries.back().cookie);
    }
    text += '}';
  }
  return text + "\n";
}

// A guest path of a backup: its node in the namespace, its name and path.
struct GuestNode {
  browse::Attr attr;  // attr.id is its node
  std::string name;   // "" for the filesystem's root
  std::string path;   // "/etc/motd" inside the filesystem
  std::string fs;
};

// args: VM, BACKUP, FS, then the path's segments (decoded).
GuestNode ResolveGuestPath(ApiContext& ctx,
                           CatalogPool::Handles& db,
                           const std::vector<std::string>& args) {
  db.catalog->RequireBackup(args[0], args[1]);  // its own sentence
  GuestNode out;
  out.fs = args[2];
  std::vector<std::string> segments = {args[0], args[1], "files", args[2]};
  for (size_t i = 3; i < args.size(); ++i) {
    segments.push_back(args[i]);
    out.path += "/" + args[i];
    out.name = args[i];
  }
  if (out.path.empty()) {
    out.path = "/";
  }
  try {
    out.attr = ctx.ns.Resolve(segments);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kNotFound) {
      throw;
    }
    const auto files = ctx.ns.Resolve({args[0], args[1], "files"}).id;
    if (!ctx.ns.Lookup(files, args[2])) {
      throw Error(ErrorKind::kNotFound, "no indexed filesystem '" + args[2] +
                                            "' in backup " + args[1]);
    }
    throw Error(ErrorKind::kNotFound, "no such file in the guest");
  }
  return out;
}

// RFC 5987: any byte but unreserved ones as %XX (guest names may hold
// newlines or quotes; they never reach a header raw).
std::string PercentEncode(const std::string& name) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : name) {
    if (std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// A folder as a tar (default) or zip archive, streamed in chunks (its length
// is not known in advance); a damaged file inside cuts the transfer off
// with an error, never a whole-looking archive.
Response DownloadFolder(ApiContext& ctx,
                        const Request& req,
                        const GuestNode& node) {
  std::string query;
  SplitPath(std::string(req.target()), &query);
  const std::string format = QueryParam(query, "format");
  if (!format.empty() && format != "tar" && format != "zip") {
    return Fail(400, "format must be tar or zip");
  }
  const bool zip = format == "zip";
  const std::string name = node.name.empty() ? node.fs : node.name;
  Response out;
  out.content_type = zip ? "application/zip" : "application/x-tar";
  out.length = Response::kUnknownLength;
  out.headers.push_back({"Content-Disposition",
                         "attachment; filename*=UTF-8''" +
                             PercentEncode(name + (zip ? ".zip" : ".tar"))});
  const browse::NodeId id = node.attr.id;
  const std::string top = node.name.empty() ? "root" : node.name;
  out.stream = [&ctx, id, top,
                zip](const std::function<void(const char*, size_t)>& write) {
    browse::StreamArchive(zip ? "zip" : "tar", ctx.ns, id, top, write);
  };
  return out;
}

Response Download(ApiContext& ctx, const Request& req, const GuestNode& node) {
  const browse::Attr& a = node.attr;
  if ((a.mode & S_IFMT) == S_IFDIR) {
    return DownloadFolder(ctx, req, node);
  }
  if ((a.mode & S_IFMT) != S_IFREG) {
    return Fail(400, "only files and folders can be downloaded");
  }
  std::string query;
  SplitPath(std::string(req.target()), &query);
  if (!QueryParam(query, "format").empty()) {
    return Fail(400,
                "format (tar or zip) is for folders; a file downloads as "
                "itself");
  }
  uint64_t first = 0, last = a.size == 0 ? 0 : a.size - 1;
  Response out;
  out.content_type = "application/octet-stream";
  out.headers.push_back({"Accept-Ranges", "bytes"});
  out.headers.push_back(
      {"Content-Disposition",
       "attachment; filename*=UTF-8''" + PercentEncode(node.name)});
  if (auto range = req.find(http::field::range); range != req.end()) {
    const auto r = ParseRange(std::string(range->value()), a.size);
    if (!r) {
      Response bad = Fail(416, "range not satisfiable");
      bad.headers.push_back(
          {"Content-Range", "bytes */" + std::to_string(a.size)});
      return bad;
    }
    first = r->first;
    last = r->last;
    out.status = 206;
    out.headers.push_back({"Content-Range", "bytes " + std::to_string(first) +
                                                "-" + std::to_string(last) +
                                                "/" + std::to_string(a.size)});
  }
  out.length = a.size == 0 ? 0 : last - first + 1;
  const uint64_t length = out.length;
  // Opened when the body is sent: the headers go out first, before a
  // guest file's appliance starts.
  out.stream = [&ctx, id = node.attr.id, path = node.path, first,
                length](const std::function<void(const char*, size_t)>& write) {
    const auto reader = ctx.ns.Open(id);
    std::vector<std::byte> buf(1 << 20);
    for (uint64_t done = 0; done < length;) {
      const size_t want =
          static_cast<size_t>(std::min<uint64_t>(buf.size(), length - done));
      const size_t n = reader->Read(std::span(buf).first(want), first + done);
      if (n == 0) {
        throw Error(ErrorKind::kIo, path + " is shorter than indexed");
      }
      write(reinterpret_cast<const char*>(buf.data()), n);
      done += n;
    }
  };
  return out;
}

}  // namespace

Response RedeemDownloadLink(Call& call) {
  const auto link = call.ctx.links.Redeem(call.args[0]);
  if (!link) {
    return Fail(404,
                "this download link is used or expired (each works once, "
                "within a minute): start the download again");
  }
  Request inner = call.req;
  inner.target(link->target);
  return RouteAuthenticated(call.ctx, inner, link->who, call.peer);
}

Response GuestEntry(Call& call) {
  const GuestNode node = ResolveGuestPath(call.ctx, call.db(), call.args);
  return {200,
          "application/json",
          EntryText(call.ctx.ns, node.attr, node.name, node.path,
                    ParsePage(call.query)),
          {},
          0,
          nullptr};
}

Response DownloadGuestPath(Call& call) {
  return Download(call.ctx, call.req,
                  ResolveGuestPath(call.ctx, call.db(), call.args));
}

// Checked now (the guest entry must exist), redeemed once by GET
// /api/v1/downloads/SECRET, which stands for the token for this target.
Response IssueDownloadLink(Call& call) {
  const json body = BodyJson(call.req.body());
  const auto path = body.find("path");
  std::optional<RouteMatch> match;
  if (path != body.end() && path->is_string()) {
    std::string query;
    match = MatchRoute(http::verb::get,
                       SplitPath(path->get<std::string>(), &query), nullptr);
  }
  if (!match || match->route->handle != &DownloadGuestPath) {
    return Fail(400,
                "path must be a download route: "
                "/api/v1/backups/VM/BACKUP/download/FS/PATH");
  }
  // 404 now rather than in the browser (another tenant's VM: as if it
  // did not exist).
  if (!call.Sees(match->args[0])) {
    throw Error(ErrorKind::kNotFound, "no VM named '" + match->args[0] + "'");
  }
  ResolveGuestPath(call.ctx, call.db(), match->args);
  const std::string secret =
      call.ctx.links.Issue(path->get<std::string>(), call.who);
  return Json(201, {{"url", "/api/v1/downloads/" + secret},
                    {"expires_in_seconds", DownloadLinks::kLifetime.count()}});
}

std::optional<ByteRange> ParseRange(const std::string& header, uint64_t size) {
  if (header.rfind("bytes=", 0) != 0 || header.find(',') != std::string::npos ||
      size == 0) {
    return std::nullopt;
  }
  const std::string spec = header.substr(6);
  const auto dash = spec.find('-');
  if (dash == std::string::npos) {
    return std::nullopt;
  }
  const auto digits = [](const std::string& s) {
    return s.size() <= 19 &&
           s.find_first_not_of("0123456789") == std::string::npos;
  };
  try {
    const std::string a = spec.substr(0, dash), b = spec.substr(dash + 1);
    if (!digits(a) || !digits(b) || (a.empty() && b.empty())) {
      return std::nullopt;  // signs, spaces, junk: not a range
    }
    if (a.empty()) {  // the last N bytes
      const uint64_t n = std::stoull(b);
      if (n == 0) {
        return std::nullopt;
      }
      return ByteRange{n >= size ? 0 : size - n, size - 1};
    }
    const uint64_t first = std::stoull(a);
    uint64_t last = b.empty() ? size - 1 : std::stoull(b);
    if (first >= size || last < first) {
      return std::nullopt;
    }
    return ByteRange{first, std::min(last, size - 1)};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace sendense::web
