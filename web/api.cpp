#include "web/api.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/browse/archive.h"
#include "engine/catalog/catalog.h"
#include "engine/catalog/file_history.h"
#include "engine/catalog/guest_index.h"
#include "engine/catalog/record_json.h"
#include "engine/catalog/vm_configs.h"
#include "engine/io/capacity.h"
#include "engine/jobs/backup_request.h"
#include "engine/repo/capacity_report.h"
#include "engine/repo/names.h"
#include "engine/repo/vm_removal.h"
#include "engine/time.h"
#include "web/api_json.h"
#include "web/http_errors.h"
#include "web/metrics.h"
#include "web/overview_api.h"
#include "web/restore_api.h"
#include "web/retention_api.h"

namespace sendense::web {
namespace {

using json = nlohmann::json;

// Constant-time comparison: how long it takes says nothing of the token.
bool SameToken(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |=
        static_cast<unsigned char>(a[i] ^ b[i % (b.empty() ? 1 : b.size())]);
  }
  return diff == 0 && !b.empty();
}

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

using Db = CatalogPool::Handles;

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

const BackupRecord FindBackup(Db& db,
                              const std::string& vm,
                              const std::string& name) {
  if (auto b = db.catalog->FindBackup(vm, name)) {
    return std::move(*b);
  }
  throw Error(ErrorKind::kNotFound,
              "no backup '" + name + "' of VM '" + vm + "'");
}

// A guest path of a backup: its node in the namespace, its name and path.
struct GuestNode {
  browse::Attr attr;  // attr.id is its node
  std::string name;   // "" for the filesystem's root
  std::string path;   // "/etc/motd" inside the filesystem
  std::string fs;
};

// args: VM, BACKUP, files|download, FS, path segments (decoded).
GuestNode ResolveGuestPath(ApiContext& ctx,
                           Db& db,
                           const std::vector<std::string>& args) {
  FindBackup(db, args[0], args[1]);  // its own sentence when missing
  GuestNode out;
  out.fs = args[3];
  std::vector<std::string> segments = {args[0], args[1], "files", args[3]};
  for (size_t i = 4; i < args.size(); ++i) {
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
    if (!ctx.ns.Lookup(files, args[3])) {
      throw Error(ErrorKind::kNotFound, "no indexed filesystem '" + args[3] +
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

// A download link for the API target in `body` ("path"): checked now (the
// guest entry must exist), redeemed once by GET /api/v1/downloads/SECRET.
Response IssueDownloadLink(ApiContext& ctx, Db& db, const json& body) {
  const auto path = body.find("path");
  std::string query;
  const auto p = path != body.end() && path->is_string()
                     ? SplitPath(path->get<std::string>(), &query)
                     : std::vector<std::string>{};
  if (p.size() < 7 || p[0] != "api" || p[1] != "v1" || p[2] != "backups" ||
      p[5] != "download") {
    return Fail(400,
                "path must be a download route: "
                "/api/v1/backups/VM/BACKUP/download/FS/PATH");
  }
  std::vector<std::string> args;
  for (size_t i = 3; i < p.size(); ++i) {
    args.push_back(DecodeSegment(p[i]));
  }
  ResolveGuestPath(ctx, db, args);  // 404 now rather than in the browser
  const std::string secret = ctx.links.Issue(path->get<std::string>());
  return Json(201, {{"url", "/api/v1/downloads/" + secret},
                    {"expires_in_seconds", DownloadLinks::kLifetime.count()}});
}

Response RouteAuthorized(ApiContext& ctx, const Request& req);

Response Route(ApiContext& ctx, const Request& req) {
  std::string query;
  const auto p = SplitPath(std::string(req.target()), &query);
  const bool get =
      req.method() == http::verb::get || req.method() == http::verb::head;
  const bool api = p.size() >= 3 && p[0] == "api" && p[1] == "v1";
  if (api && p.size() == 3 && p[2] == "health" && get) {
    return Json(200, {{"status", "ok"}});
  }
  // A one-time download link stands for the token, for its target only.
  if (api && p.size() == 4 && p[2] == "downloads" &&
      req.method() == http::verb::get) {
    const auto target = ctx.links.Redeem(p[3]);
    if (!target) {
      return Fail(404,
                  "this download link is used or expired (each works once, "
                  "within a minute): start the download again");
    }
    Request inner = req;
    inner.target(*target);
    return RouteAuthorized(ctx, inner);
  }
  // Everything else needs the token.
  const auto auth = req.find(http::field::authorization);
  const std::string given = auth == req.end() ? "" : std::string(auth->value());
  if (given.rfind("Bearer ", 0) != 0 ||
      !SameToken(given.substr(7), ctx.token)) {
    Response r = Fail(401, "missing or wrong bearer token");
    r.headers.push_back({"WWW-Authenticate", "Bearer"});
    return r;
  }
  return RouteAuthorized(ctx, req);
}

Response RouteAuthorized(ApiContext& ctx, const Request& req) {
  std::string query;
  const auto p = SplitPath(std::string(req.target()), &query);
  const auto method = req.method();
  const bool get = method == http::verb::get || method == http::verb::head;
  if (p.size() == 1 && p[0] == "metrics" && get) {
    return Metrics(ctx);
  }
  if (p.size() < 3 || p[0] != "api" || p[1] != "v1") {
    return Fail(404, "no such route");
  }
  auto lease = ctx.catalogs.Acquire();
  Db& db = *lease;
  const std::string& what = p[2];
  std::vector<std::string> args;
  for (size_t i = 3; i < p.size(); ++i) {
    args.push_back(DecodeSegment(p[i]));
  }
  if (what == "vms") {
    if (args.empty() && get) {
      json list = json::array();
      for (const auto& vm : db.vms->List()) {
        list.push_back(VmJson(vm));
      }
      return Json(200, {{"vms", list}});
    }
    if (args.empty() && method == http::verb::post) {
      json body;
      try {
        body = json::parse(req.body());
      } catch (const std::exception&) {
        return Fail(400, "the body is not JSON");
      }
      const VmConfig vm = ParseVmJson(body);
      db.vms->Add(vm);
      return Json(201, VmJson(vm));
    }
    if (args.size() == 1 && get) {
      const auto vm = db.vms->Find(args[0]);
      if (!vm) {
        ThrowNoSuchVm(args[0], db.vms->Names());
      }
      return Json(200, VmJson(*vm));
    }
    if (args.size() == 1 && method == http::verb::delete_) {
      return Json(200, VmRemovalJson(RemoveVm(ctx.repo, args[0])));
    }
    if (args.size() == 2 && args[1] == "backup" && method == http::verb::post) {
      const auto vm = db.vms->Find(args[0]);
      if (!vm) {
        ThrowNoSuchVm(args[0], db.vms->Names());
      }
      return Submitted(ctx.jobs, ctx.jobs.Submit(BackupRequestFor(*vm)),
                       "a backup of VM '" + vm->name + "'");
    }
    if (args.size() == 2 && args[1] == "prune" && method == http::verb::post) {
      return PruneVm(ctx.jobs, ctx.repo, db, args[0], BodyJson(req.body()));
    }
    if (args.size() == 2 && args[1] == "retention" &&
        method == http::verb::put) {
      return SetRetention(db, args[0], BodyJson(req.body()));
    }
  }
  if (args.empty() && get) {
    if (what == "overview") {
      return Overview(ctx, db);
    }
    if (what == "find") {
      return FindFiles(db, query);
    }
    if (what == "history") {
      return FileHistoryOf(db, query);
    }
  }
  if (what == "restores" && args.empty() && method == http::verb::post) {
    return StartRestore(ctx.jobs, ctx.restore_dir, BodyJson(req.body()));
  }
  if (what == "exports") {
    return ExportsRoute(ctx.repo, method, args,
                        QueryParam(query, "keep_overlay") == "true", req.body(),
                        ctx.export_tls_dir);
  }
  if (what == "verify" && args.empty() && method == http::verb::post) {
    return StartVerify(ctx.jobs, BodyJson(req.body()));
  }
  if (what == "repository" && args.empty() && get) {
    return Json(
        200, CapacityJson(MeasureCapacity(ctx.repo, db.catalog->Backups(""))));
  }
  if (what == "download-links" && args.empty() && method == http::verb::post) {
    return IssueDownloadLink(ctx, db, BodyJson(req.body()));
  }
  if (what == "copies" && args.empty() && method == http::verb::post) {
    return StartCopy(ctx.jobs, BodyJson(req.body()));
  }
  if (what == "backups" && args.size() == 2 && method == http::verb::delete_) {
    return ForgetPoint(ctx.jobs, db, args[0], args[1]);
  }
  if (what == "backups" && get) {
    if (args.empty()) {
      const std::string vm = QueryParam(query, "vm");
      json list = json::array();
      for (const auto& b : db.catalog->Backups(vm)) {
        list.push_back(BackupJson(b));
      }
      return Json(200, {{"backups", list}});
    }
    if (args.size() == 2) {
      const BackupRecord b = FindBackup(db, args[0], args[1]);
      json j = BackupJson(b);
      json fss = json::array();
      for (const auto& f : db.index->Filesystems(b.id)) {
        fss.push_back(GuestFilesystemJson(f));
      }
      j["filesystems"] = fss;
      j["guest_index"] = GuestIndexJson(db.index->LastRun(b.id));
      return Json(200, j);
    }
    if (args.size() >= 4 && (args[2] == "files" || args[2] == "download")) {
      const GuestNode node = ResolveGuestPath(ctx, db, args);
      if (args[2] == "download") {
        return Download(ctx, req, node);
      }
      return {
          200,
          "application/json",
          EntryText(ctx.ns, node.attr, node.name, node.path, ParsePage(query)),
          {},
          0,
          nullptr};
    }
  }
  if (what == "jobs") {
    if (args.empty() && get) {
      json list = json::array();
      for (const auto& j : ctx.jobs.List()) {
        list.push_back(JobJson(j));
      }
      return Json(200, {{"jobs", list}});
    }
    int64_t id = 0;
    if (!args.empty()) {
      try {
        id = std::stoll(args[0]);
      } catch (const std::exception&) {
        return Fail(400, "a job id is a number");
      }
    }
    if (args.size() == 1 && get) {
      const auto j = ctx.jobs.Get(id);
      return j ? Json(200, JobJson(*j)) : Fail(404, "no such job");
    }
    if (args.size() == 2 && args[1] == "cancel" && method == http::verb::post) {
      if (!ctx.jobs.Get(id)) {
        return Fail(404, "no such job");
      }
      if (!ctx.jobs.Cancel(id)) {
        return Fail(409, Active(ctx.jobs.Get(id)->state)
                             ? "a running prune is not stopped halfway"
                             : "the job has already ended");
      }
      return Json(202, JobJson(*ctx.jobs.Get(id)));
    }
  }
  return Fail(404, "no such route");
}

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

std::string DecodeSegment(const std::string& segment) {
  const std::string out = PercentDecode(segment, false);
  if (out.find('/') != std::string::npos || out == "." || out == ".." ||
      out.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                "the path holds an empty, '.', '..', '/' or NUL segment");
  }
  return out;
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

Response HandleApi(ApiContext& ctx, const Request& req) {
  try {
    return Route(ctx, req);
  } catch (const Error& e) {
    return Fail(ToHttpStatus(e.kind()), e.what());
  } catch (const std::exception& e) {
    return Fail(500, e.what());
  }
}

}  // namespace sendense::web
