#include "web/tls.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "engine/error.h"

namespace sendense::web {
namespace {

namespace ssl = boost::asio::ssl;

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;

[[noreturn]] void Fail(const std::string& what) {
  throw Error(ErrorKind::kIo, what);
}

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') {
    return "localhost";
  }
  return name;
}

// Writes `write(FILE*)` to `path` with mode 0600, atomically.
template <typename Write>
void WritePem(const std::string& path, Write write) {
  const std::string temp = path + ".tmp";
  const mode_t old = ::umask(077);
  FILE* f = std::fopen(temp.c_str(), "w");
  ::umask(old);
  if (f == nullptr || !write(f)) {
    if (f != nullptr) {
      std::fclose(f);
    }
    Fail("cannot write " + temp);
  }
  if (std::fflush(f) != 0 || ::fsync(::fileno(f)) != 0 || std::fclose(f) != 0 ||
      std::rename(temp.c_str(), path.c_str()) != 0) {
    Fail("cannot write " + path);
  }
}

}  // namespace

TlsFiles EnsureSelfSigned(const std::string& dir) {
  TlsFiles files{dir + "/cert.pem", dir + "/key.pem"};
  if (std::filesystem::exists(files.cert) &&
      std::filesystem::exists(files.key)) {
    return files;
  }
  std::filesystem::create_directories(dir);
  Key key(EVP_EC_gen("P-256"));
  Cert cert(X509_new());
  if (!key || !cert) {
    Fail("cannot make a TLS key");
  }
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  std::FILE* random = std::fopen("/dev/urandom", "rb");
  if (random == nullptr ||
      std::fread(serial, 1, sizeof serial, random) != sizeof serial) {
    Fail("no random bytes for a certificate");
  }
  std::fclose(random);
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 86400);
  X509_set_pubkey(cert.get(), key.get());
  const std::string host = HostName();
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(
      name, "CN", MBSTRING_ASC,
      reinterpret_cast<const unsigned char*>(host.c_str()), -1, -1, 0);
  X509_NAME_add_entry_by_txt(
      name, "O", MBSTRING_ASC,
      reinterpret_cast<const unsigned char*>("Sendense appliance"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  const std::string san = "DNS:" + host + ",DNS:localhost,IP:127.0.0.1,IP:::1";
  for (const auto& [nid, value] :
       {std::pair{NID_subject_alt_name, san},
        std::pair{NID_basic_constraints, std::string("critical,CA:FALSE")},
        std::pair{NID_ext_key_usage, std::string("serverAuth")}}) {
    X509_EXTENSION* ext =
        X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (ext == nullptr) {
      Fail("cannot make a certificate extension");
    }
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    Fail("cannot sign the certificate");
  }
  WritePem(files.key, [&](FILE* f) {
    return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr,
                                nullptr) == 1;
  });
  WritePem(files.cert,
           [&](FILE* f) { return PEM_write_X509(f, cert.get()) == 1; });
  return files;
}

std::string CertificateFingerprint(const std::string& cert_path) {
  FILE* f = std::fopen(cert_path.c_str(), "r");
  if (f == nullptr) {
    return "";
  }
  Cert cert(PEM_read_X509(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!cert || X509_digest(cert.get(), EVP_sha256(), md, &n) != 1) {
    return "";
  }
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    char hex[4];
    std::snprintf(hex, sizeof hex, i + 1 < n ? "%02X:" : "%02X", md[i]);
    out += hex;
  }
  return out;
}

std::shared_ptr<ssl::context> ServerContext(const TlsFiles& files) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_options(ssl::context::default_workarounds |
                   ssl::context::no_compression | ssl::context::single_dh_use);
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(files.cert, ec);
  if (ec) {
    throw Error(
        ErrorKind::kInvalidArgument,
        "cannot use the TLS certificate " + files.cert + ": " + ec.message());
  }
  ctx->use_private_key_file(files.key, ssl::context::pem, ec);
  if (ec || SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    throw Error(
        ErrorKind::kInvalidArgument,
        "cannot use the TLS key " + files.key +
            (ec ? ": " + ec.message() : ": it does not match the certificate"));
  }
  return ctx;
}

}  // namespace sendense::web
