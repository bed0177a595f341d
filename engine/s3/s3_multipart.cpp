// Multipart uploads: started, completed from their parts' ETags, aborted,
// listed (what a killed copy left), and the ETag S3 gives the result.

#include <openssl/evp.h>

#include "engine/error.h"
#include "engine/s3/s3_client.h"
#include "engine/s3/s3_request.h"

namespace sendense::s3 {

std::string Client::StartUpload(const std::string& key,
                                const Lock& lock) const {
  Request r;
  r.method = "POST";
  r.key = Key(key);
  r.query["uploads"] = "";
  AddLock(r.headers, lock);
  r.what = "the start of a multipart upload of " + r.key;
  const Response response = Send(r);
  Check(r, response);
  const std::string id = Xml(response.body)
                             .child("InitiateMultipartUploadResult")
                             .child_value("UploadId");
  if (id.empty()) {
    throw Error(ErrorKind::kCorrupt, "S3 at " + options_.location.endpoint +
                                         " started an upload of " + r.key +
                                         " without naming it");
  }
  return id;
}

void Client::CompleteUpload(const std::string& key,
                            const std::string& upload_id,
                            const std::vector<std::string>& etags) const {
  std::string body = "<CompleteMultipartUpload>";
  for (size_t i = 0; i < etags.size(); ++i) {
    body += "<Part><PartNumber>" + std::to_string(i + 1) +
            "</PartNumber><ETag>\"" + etags[i] + "\"</ETag></Part>";
  }
  body += "</CompleteMultipartUpload>";
  Request r;
  r.method = "POST";
  r.key = Key(key);
  r.query["uploadId"] = upload_id;
  r.body = &body;
  r.what = "the completion of the upload of " + r.key;
  const Response response = Send(r);
  Check(r, response);
  // S3 may answer 200 with an error in the body.
  const auto doc = Xml(response.body);
  if (doc.child("Error")) {
    Response failed = response;
    failed.status = 500;
    Check(r, failed);
  }
}

void Client::AbortUpload(const std::string& key,
                         const std::string& upload_id) const {
  Request r;
  r.method = "DELETE";
  r.key = Key(key);
  r.query["uploadId"] = upload_id;
  r.what = "the abort of the upload of " + r.key;
  const Response response = Send(r);
  if (response.status != 404) {  // NoSuchUpload: gone already
    Check(r, response);
  }
}

std::vector<Upload> Client::Uploads(const std::string& prefix) const {
  Request r;
  r.query["uploads"] = "";
  r.query["prefix"] = Key(prefix);
  r.what = "the list of uploads under " + Key(prefix);
  const Response response = Send(r);
  Check(r, response);
  std::vector<Upload> out;
  const auto doc = Xml(response.body);
  for (auto u : doc.child("ListMultipartUploadsResult").children("Upload")) {
    out.push_back({std::string(u.child_value("Key"))
                       .substr(options_.location.prefix.size()),
                   u.child_value("UploadId")});
  }
  return out;
}

std::string MultipartEtag(const std::vector<std::string>& part_etags) {
  std::string md5s;
  for (const auto& e : part_etags) {
    for (size_t i = 0; i + 1 < e.size(); i += 2) {
      md5s += static_cast<char>(std::stoi(e.substr(i, 2), nullptr, 16));
    }
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(md5s.data(), md5s.size(), md, &n, EVP_md5(), nullptr);
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += digits[md[i] >> 4];
    out += digits[md[i] & 15];
  }
  return out + "-" + std::to_string(part_etags.size());
}

}  // namespace sendense::s3
