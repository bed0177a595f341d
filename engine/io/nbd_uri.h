#pragma once

#include <string>

namespace sendense {

// Whether `text` is an NBD URI libnbd takes (nbd://, nbds://, nbd+unix://,
// nbds+unix://, nbd+vsock://, nbds+vsock://) rather than a path.
bool IsNbdUri(const std::string& text);

// Whether `uri` asks for TLS (nbds://, nbds+unix://, nbds+vsock://).
bool IsTlsNbdUri(const std::string& uri);

// Error kInvalidArgument unless the client certificates directory
// `tls_certificates` (empty: none given) fits `uri`: only with a TLS URI,
// and holding ca-cert.pem, client-cert.pem and client-key.pem.
void RequireNbdTls(const std::string& uri, const std::string& tls_certificates);

// Error kInvalidArgument unless `dir` holds ca-cert.pem, client-cert.pem
// and client-key.pem.
void RequireTlsDirectory(const std::string& dir);

// Error kInvalidArgument unless `uri` is an NBD URI: the sentence names the
// disk and, for a path to an image, how to serve it.
void RequireNbdUri(const std::string& disk, const std::string& uri);

}  // namespace sendense
