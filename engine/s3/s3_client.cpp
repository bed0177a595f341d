#include "engine/s3/s3_client.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <ctime>
#include <vector>

#include <openssl/evp.h>

#include "engine/error.h"
#include "engine/s3/s3_request.h"

namespace sendense::s3 {

namespace {

std::string AmzDate() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

size_t AppendBody(char* p, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, size * n);
  return size * n;
}

size_t WriteFd(char* p, size_t size, size_t n, void* fd) {
  const size_t total = size * n;
  for (size_t done = 0; done < total;) {
    const ssize_t w = ::write(*static_cast<int*>(fd), p + done, total - done);
    if (w <= 0) {
      return 0;  // curl stops: CURLE_WRITE_ERROR
    }
    done += static_cast<size_t>(w);
  }
  return total;
}

size_t KeepHeader(char* p, size_t size, size_t n, void* out) {
  const std::string line(p, size * n);
  const size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t\r\n") + 1);
    (*static_cast<std::map<std::string, std::string>*>(out))[name] = value;
  }
  return size * n;
}

// A file range read as a request body.
struct FileBody {
  int fd;
  uint64_t offset, left;
};

size_t ReadFileBody(char* p, size_t size, size_t n, void* in) {
  auto* b = static_cast<FileBody*>(in);
  const size_t want = std::min<uint64_t>(size * n, b->left);
  if (want == 0) {
    return 0;
  }
  const ssize_t r = ::pread(b->fd, p, want, static_cast<off_t>(b->offset));
  if (r <= 0) {
    return CURL_READFUNC_ABORT;
  }
  b->offset += static_cast<uint64_t>(r);
  b->left -= static_cast<uint64_t>(r);
  return static_cast<size_t>(r);
}

// A string read as a request body.
struct StringBody {
  const char* next;
  size_t left;
};

size_t ReadStringBody(char* p, size_t size, size_t n, void* in) {
  auto* b = static_cast<StringBody*>(in);
  const size_t k = std::min(size * n, b->left);
  std::memcpy(p, b->next, k);
  b->next += k;
  b->left -= k;
  return k;
}

std::string Md5OfFileRange(int fd,
                           uint64_t offset,
                           uint64_t length,
                           const std::string& path) {
  // Streamed through OpenSSL's MD5 in 4 MiB reads: no part is held whole.
  std::vector<char> buf(4 << 20);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_md5(), nullptr);
  for (uint64_t done = 0; done < length;) {
    const size_t want = std::min<uint64_t>(buf.size(), length - done);
    const ssize_t r =
        ::pread(fd, buf.data(), want, static_cast<off_t>(offset + done));
    if (r <= 0) {
      EVP_MD_CTX_free(ctx);
      throw Error(ErrorKind::kIo, "cannot read " + path);
    }
    EVP_DigestUpdate(ctx, buf.data(), static_cast<size_t>(r));
    done += static_cast<uint64_t>(r);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx, md, &n);
  EVP_MD_CTX_free(ctx);
  unsigned char b64[64];
  EVP_EncodeBlock(b64, md, static_cast<int>(n));
  return reinterpret_cast<char*>(b64);
}

}  // namespace

std::string Location::url() const {
  return endpoint + "/" + bucket + (prefix.empty() ? "" : "/" + prefix);
}

Location Location::Parse(const std::string& url) {
  const auto bad = [&](const std::string& why) {
    return Error(ErrorKind::kInvalidArgument,
                 "'" + url + "' is not an S3 location " + why +
                     " (https://ENDPOINT/BUCKET[/PREFIX])");
  };
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos || (url.compare(0, scheme, "https") != 0 &&
                                      url.compare(0, scheme, "http") != 0)) {
    throw bad("(it needs https:// or http://)");
  }
  const size_t slash = url.find('/', scheme + 3);
  Location l;
  l.endpoint = url.substr(0, slash);
  if (slash == std::string::npos || l.endpoint.size() == scheme + 3) {
    throw bad("(it names no bucket)");
  }
  std::string rest = url.substr(slash + 1);
  const size_t s2 = rest.find('/');
  l.bucket = rest.substr(0, s2);
  if (l.bucket.size() < 3) {
    throw bad("(a bucket name has 3 characters or more)");
  }
  if (s2 != std::string::npos) {
    l.prefix = rest.substr(s2 + 1);
    while (!l.prefix.empty() && l.prefix.back() == '/') {
      l.prefix.pop_back();
    }
    if (!l.prefix.empty()) {
      l.prefix += '/';
    }
  }
  return l;
}

Client::Client(ClientOptions options)
    : options_(std::move(options)), curl_(curl_easy_init()) {
  if (curl_ == nullptr) {
    throw Error(ErrorKind::kIo, "cannot start libcurl");
  }
}

Client::~Client() {
  curl_easy_cleanup(curl_);
}

std::string Client::Key(const std::string& key) const {
  return options_.location.prefix + key;
}

Client::Response Client::Send(const Request& r) const {
  const Location& l = options_.location;
  const std::string path =
      "/" + l.bucket + (r.key.empty() ? "" : "/" + UriEncode(r.key, true));
  std::string query;
  for (const auto& [k, v] : r.query) {
    query += (query.empty() ? "?" : "&") + UriEncode(k, false) + "=" +
             UriEncode(v, false);
  }
  const std::string host = l.endpoint.substr(l.endpoint.find("://") + 3);

  int fd = -1;
  FileBody file_body{};
  std::string content_md5;
  if (!r.file.empty()) {
    fd = ::open(r.file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      throw Error(ErrorKind::kIo, "cannot read " + r.file);
    }
    file_body = {fd, r.offset, r.length};
    try {
      content_md5 = Md5OfFileRange(fd, r.offset, r.length, r.file);
    } catch (...) {
      ::close(fd);
      throw;
    }
  } else if (r.body != nullptr) {
    content_md5 = Md5Base64(r.body->data(), r.body->size());
  }

  SigningInput in;
  in.method = r.method;
  in.path = path;
  in.query = r.query;
  in.headers = r.headers;
  in.headers["host"] = host;
  in.amz_date = AmzDate();
  in.headers["x-amz-date"] = in.amz_date;
  in.payload_hash = r.body != nullptr && r.file.empty()
                        ? Sha256Hex(*r.body)
                        : (!r.file.empty() ? "UNSIGNED-PAYLOAD" : kEmptySha256);
  in.headers["x-amz-content-sha256"] = in.payload_hash;
  if (!content_md5.empty()) {
    in.headers["content-md5"] = content_md5;
  }
  in.region = options_.region;
  const std::string authorization = Authorization(options_.credentials, in);

  curl_slist* headers = nullptr;
  for (const auto& [name, value] : in.headers) {
    if (name != "host") {
      headers = curl_slist_append(headers, (name + ": " + value).c_str());
    }
  }
  headers =
      curl_slist_append(headers, ("Authorization: " + authorization).c_str());
  headers = curl_slist_append(headers, "Expect:");

  int out_fd = -1;
  if (!r.out_file.empty()) {
    out_fd = ::open(r.out_file.c_str(),
                    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out_fd < 0) {
      curl_slist_free_all(headers);
      if (fd >= 0) {
        ::close(fd);
      }
      ThrowSystemError("cannot write " + r.out_file);
    }
  }

  StringBody string_body{r.body ? r.body->data() : nullptr,
                         r.body ? r.body->size() : 0};
  Response response;
  char errbuf[CURL_ERROR_SIZE] = {0};
  CURL* c = curl_;
  curl_easy_reset(c);
  const std::string url = l.endpoint + path + query;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, KeepHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &response.headers);
  if (!options_.ca_file.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, options_.ca_file.c_str());
  }
  if (options_.bytes_per_second > 0) {
    const auto bps = static_cast<curl_off_t>(options_.bytes_per_second);
    curl_easy_setopt(c, CURLOPT_MAX_SEND_SPEED_LARGE, bps);
    curl_easy_setopt(c, CURLOPT_MAX_RECV_SPEED_LARGE, bps);
  }
  if (r.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (r.method == "PUT") {
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    if (fd >= 0) {
      curl_easy_setopt(c, CURLOPT_READFUNCTION, ReadFileBody);
      curl_easy_setopt(c, CURLOPT_READDATA, &file_body);
      curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
                       static_cast<curl_off_t>(r.length));
    } else {
      curl_easy_setopt(c, CURLOPT_READFUNCTION, ReadStringBody);
      curl_easy_setopt(c, CURLOPT_READDATA, &string_body);
      curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
                       static_cast<curl_off_t>(string_body.left));
    }
  } else if (r.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS,
                     r.body != nullptr ? r.body->data() : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(r.body ? r.body->size() : 0));
  } else if (r.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  }
  // A GET into a file gets only a 2xx body there; an error's body is kept.
  struct Sink {
    int fd;
    std::string* body;
    long* status;
    CURL* c;
  } sink{out_fd, &response.body, &response.status, c};
  curl_easy_setopt(
      c, CURLOPT_WRITEFUNCTION,
      +[](char* p, size_t size, size_t n, void* s) -> size_t {
        auto* k = static_cast<Sink*>(s);
        long status = 0;
        curl_easy_getinfo(k->c, CURLINFO_RESPONSE_CODE, &status);
        if (k->fd >= 0 && status / 100 == 2) {
          return WriteFd(p, size, n, &k->fd);
        }
        return AppendBody(p, size, n, k->body);
      });
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  const CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  curl_slist_free_all(headers);
  if (fd >= 0) {
    ::close(fd);
  }
  if (out_fd >= 0 && ::close(out_fd) != 0 && rc == CURLE_OK) {
    ThrowSystemError("cannot write " + r.out_file);
  }
  if (rc != CURLE_OK) {
    const std::string why = errbuf[0] != 0 ? errbuf : curl_easy_strerror(rc);
    throw Error(
        rc == CURLE_OPERATION_TIMEDOUT ? ErrorKind::kTimeout : ErrorKind::kIo,
        "cannot reach S3 at " + l.endpoint + " (" + r.what + "): " + why);
  }
  return response;
}

void Client::Check(const Request& r, const Response& response) const {
  if (response.status / 100 == 2) {
    return;
  }
  const auto doc = Xml(response.body);
  std::string code = doc.child("Error").child_value("Code");
  const std::string message = doc.child("Error").child_value("Message");
  const std::string& endpoint = options_.location.endpoint;
  if (code == "NoSuchBucket" ||
      (code.empty() && response.status == 404 && r.key.empty())) {
    throw Error(ErrorKind::kNotFound, "bucket '" + options_.location.bucket +
                                          "' does not exist at " + endpoint);
  }
  if (code.empty()) {
    code = "HTTP " + std::to_string(response.status);
  }
  const std::string said =
      code + (message.empty() || message == code ? "" : " (" + message + ")");
  if (code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" ||
      (response.status == 403 && r.method == "HEAD")) {
    throw Error(ErrorKind::kDenied,
                "S3 at " + endpoint + " refused the credentials: " + said);
  }
  throw Error(response.status == 403   ? ErrorKind::kDenied
              : response.status == 404 ? ErrorKind::kNotFound
                                       : ErrorKind::kIo,
              "S3 at " + endpoint + " refused " + r.what + ": " + said);
}

void Client::CreateBucket(bool object_lock) const {
  Request r;
  r.method = "PUT";
  const std::string none;
  r.body = &none;
  if (object_lock) {
    r.headers["x-amz-bucket-object-lock-enabled"] = "true";
  }
  r.what = "the creation of bucket " + options_.location.bucket;
  Check(r, Send(r));
}

void Client::RequireBucket() const {
  Request r;
  r.method = "HEAD";
  r.what = "a look at bucket " + options_.location.bucket;
  Check(r, Send(r));
}

bool Client::ObjectLockEnabled() const {
  Request r;
  r.query["object-lock"] = "";
  r.what = "the Object Lock settings of bucket " + options_.location.bucket;
  const Response response = Send(r);
  if (response.status == 404) {
    const auto doc = Xml(response.body);
    if (std::string(doc.child("Error").child_value("Code")) != "NoSuchBucket") {
      return false;  // ObjectLockConfigurationNotFoundError
    }
  }
  Check(r, response);
  const auto doc = Xml(response.body);
  return std::string(doc.child("ObjectLockConfiguration")
                         .child_value("ObjectLockEnabled")) == "Enabled";
}

std::optional<ObjectInfo> Client::Head(const std::string& key,
                                       const std::string& version_id) const {
  Request r;
  r.method = "HEAD";
  r.key = Key(key);
  if (!version_id.empty()) {
    r.query["versionId"] = version_id;
  }
  r.what = "a look at " + r.key;
  const Response response = Send(r);
  if (response.status == 404) {
    return std::nullopt;
  }
  Check(r, response);
  ObjectInfo info;
  info.key = key;
  const auto get = [&](const char* name) {
    const auto it = response.headers.find(name);
    return it == response.headers.end() ? std::string() : it->second;
  };
  info.size = std::stoull("0" + get("content-length"));
  info.etag = Unquote(get("etag"));
  info.lock.mode = get("x-amz-object-lock-mode");
  info.lock.retain_until = get("x-amz-object-lock-retain-until-date");
  return info;
}

std::string Client::Put(const std::string& key,
                        const std::string& body,
                        const Lock& lock) const {
  Request r;
  r.method = "PUT";
  r.key = Key(key);
  r.body = &body;
  AddLock(r.headers, lock);
  r.what = "the upload of " + r.key;
  const Response response = Send(r);
  Check(r, response);
  const auto it = response.headers.find("etag");
  return it == response.headers.end() ? "" : Unquote(it->second);
}

std::string Client::PutFileRange(const std::string& key,
                                 const std::string& path,
                                 uint64_t offset,
                                 uint64_t length,
                                 const Lock& lock,
                                 const std::string& upload_id,
                                 int part) const {
  Request r;
  r.method = "PUT";
  r.key = Key(key);
  r.file = path;
  r.offset = offset;
  r.length = length;
  if (!upload_id.empty()) {
    r.query["uploadId"] = upload_id;
    r.query["partNumber"] = std::to_string(part);
    r.what = "part " + std::to_string(part) + " of " + r.key;
  } else {
    AddLock(r.headers, lock);
    r.what = "the upload of " + r.key;
  }
  const Response response = Send(r);
  Check(r, response);
  const auto it = response.headers.find("etag");
  return it == response.headers.end() ? "" : Unquote(it->second);
}

std::string Client::Get(const std::string& key) const {
  Request r;
  r.key = Key(key);
  r.what = "the download of " + r.key;
  Response response = Send(r);
  Check(r, response);
  return std::move(response.body);
}

uint64_t Client::GetToFile(const std::string& key,
                           const std::string& path) const {
  Request r;
  r.key = Key(key);
  r.out_file = path;
  r.what = "the download of " + r.key;
  const Response response = Send(r);
  Check(r, response);
  const auto it = response.headers.find("content-length");
  return it == response.headers.end() ? 0 : std::stoull(it->second);
}

std::vector<ObjectInfo> Client::List(const std::string& prefix) const {
  std::vector<ObjectInfo> out;
  std::string token;
  do {
    Request r;
    r.query["list-type"] = "2";
    r.query["prefix"] = Key(prefix);
    if (!token.empty()) {
      r.query["continuation-token"] = token;
    }
    r.what = "the list of " + Key(prefix);
    const Response response = Send(r);
    Check(r, response);
    const auto doc = Xml(response.body);
    const auto result = doc.child("ListBucketResult");
    for (auto c : result.children("Contents")) {
      ObjectInfo info;
      info.key = std::string(c.child_value("Key"))
                     .substr(options_.location.prefix.size());
      info.size = std::stoull("0" + std::string(c.child_value("Size")));
      info.etag = Unquote(c.child_value("ETag"));
      out.push_back(info);
    }
    token = std::string(result.child_value("IsTruncated")) == "true"
                ? result.child_value("NextContinuationToken")
                : "";
  } while (!token.empty());
  return out;
}

void Client::Delete(const std::string& key,
                    const std::string& version_id) const {
  Request r;
  r.method = "DELETE";
  r.key = Key(key);
  if (!version_id.empty()) {
    r.query["versionId"] = version_id;
  }
  r.what = "the deletion of " + r.key;
  Check(r, Send(r));
}

std::vector<std::string> Client::Versions(const std::string& key) const {
  std::vector<std::string> out;
  for (const auto& v : ListVersions(key)) {
    if (v.key == key && !v.delete_marker) {
      out.push_back(v.version_id);
    }
  }
  return out;
}

std::vector<Version> Client::ListVersions(const std::string& prefix) const {
  std::vector<Version> out;
  std::string key_marker, version_marker;
  bool more = true;
  while (more) {
    Request r;
    r.query["versions"] = "";
    r.query["prefix"] = Key(prefix);
    if (!key_marker.empty()) {
      r.query["key-marker"] = key_marker;
      r.query["version-id-marker"] = version_marker;
    }
    r.what = "the versions under " + Key(prefix);
    const Response response = Send(r);
    Check(r, response);
    const auto doc = Xml(response.body);
    const auto result = doc.child("ListVersionsResult");
    for (auto v : result.children()) {
      const std::string name = v.name();
      if (name != "Version" && name != "DeleteMarker") {
        continue;
      }
      Version one;
      one.key = std::string(v.child_value("Key"))
                    .substr(options_.location.prefix.size());
      one.version_id = v.child_value("VersionId");
      one.size = std::stoull("0" + std::string(v.child_value("Size")));
      one.latest = std::string(v.child_value("IsLatest")) == "true";
      one.delete_marker = name == "DeleteMarker";
      out.push_back(one);
    }
    more = std::string(result.child_value("IsTruncated")) == "true";
    key_marker = result.child_value("NextKeyMarker");
    version_marker = result.child_value("NextVersionIdMarker");
    more = more && !key_marker.empty();
  }
  return out;
}

std::string IsoPlusDays(const std::string& iso, int days) {
  std::tm tm{};
  strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  const std::time_t t = timegm(&tm) + static_cast<std::time_t>(days) * 86400;
  std::tm out{};
  gmtime_r(&t, &out);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &out);
  return buf;
}

}  // namespace sendense::s3
