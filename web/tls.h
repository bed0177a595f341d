#pragma once

// HTTPS for the API and the dashboard: the certificate and key files, a
// self-signed pair made once when none is given, and OpenSSL contexts
// that allow TLS 1.2 and later only.

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

namespace sendense::web {

struct TlsFiles {
  std::string cert;  // PEM: the certificate (and its chain)
  std::string key;   // PEM: its private key
};

// The repository's own certificate in `dir` (cert.pem, key.pem: 0600),
// made the first time: an ECDSA P-256 key and a certificate for this
// host's name, localhost and 127.0.0.1, valid ten years.
TlsFiles EnsureSelfSigned(const std::string& dir);

// "AB:CD:..." the SHA-256 fingerprint of the certificate in `cert`, as
// browsers and `openssl x509 -fingerprint -sha256` show it.
std::string CertificateFingerprint(const std::string& cert);

// A server context of `files`: TLS 1.2 or later. Error kInvalidArgument,
// one sentence, when a file is missing, unreadable or the pair does not
// match.
std::shared_ptr<boost::asio::ssl::context> ServerContext(const TlsFiles& files);

}  // namespace sendense::web
