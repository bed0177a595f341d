#include "engine/s3/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <vector>

namespace sendense::s3 {
namespace {

std::string Hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

std::string Hmac(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
       &n);
  return std::string(reinterpret_cast<char*>(out), n);
}

std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  const size_t e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

std::string UriEncode(const std::string& s, bool keep_slash) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

std::string Sha256Hex(const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out, &n, EVP_sha256(), nullptr);
  return Hex(out, n);
}

std::string Md5Base64(const void* data, size_t size) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data, size, md, &n, EVP_md5(), nullptr);
  std::vector<unsigned char> b64(4 * ((n + 2) / 3) + 1);
  EVP_EncodeBlock(b64.data(), md, static_cast<int>(n));
  return reinterpret_cast<char*>(b64.data());
}

std::string Authorization(const Credentials& credentials,
                          const SigningInput& in) {
  std::map<std::string, std::string> headers;
  for (const auto& [name, value] : in.headers) {
    headers[Lower(name)] = Trim(value);
  }
  std::string query;
  for (const auto& [k, v] : in.query) {  // std::map: sorted by key
    query += (query.empty() ? "" : "&") + UriEncode(k, false) + "=" +
             UriEncode(v, false);
  }
  std::string canonical_headers, signed_headers;
  for (const auto& [name, value] : headers) {
    canonical_headers += name + ":" + value + "\n";
    signed_headers += (signed_headers.empty() ? "" : ";") + name;
  }
  const std::string canonical = in.method + "\n" + in.path + "\n" + query +
                                "\n" + canonical_headers + "\n" +
                                signed_headers + "\n" + in.payload_hash;
  const std::string date = in.amz_date.substr(0, 8);
  const std::string scope = date + "/" + in.region + "/s3/aws4_request";
  const std::string to_sign = "AWS4-HMAC-SHA256\n" + in.amz_date + "\n" +
                              scope + "\n" + Sha256Hex(canonical);
  const std::string key = Hmac(
      Hmac(Hmac(Hmac("AWS4" + credentials.secret_key, date), in.region), "s3"),
      "aws4_request");
  const std::string signature = Hmac(key, to_sign);
  return "AWS4-HMAC-SHA256 Credential=" + credentials.access_key + "/" + scope +
         ",SignedHeaders=" + signed_headers + ",Signature=" +
         Hex(reinterpret_cast<const unsigned char*>(signature.data()),
             signature.size());
}

}  // namespace sendense::s3
