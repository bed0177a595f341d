#include "engine/crypto/xts_cipher.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>
#include <memory>

#include "engine/error.h"

namespace sendense::crypto {
namespace {

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};

}  // namespace

XtsCipher::~XtsCipher() {
  OPENSSL_cleanse(key_.data(), key_.size());
}

void XtsCipher::Encrypt(std::span<std::byte> data,
                        uint64_t first_sector) const {
  Run(data, first_sector, true);
}

void XtsCipher::Decrypt(std::span<std::byte> data,
                        uint64_t first_sector) const {
  Run(data, first_sector, false);
}

void XtsCipher::Run(std::span<std::byte> data,
                    uint64_t first_sector,
                    bool enc) const {
  if (data.size() % kSectorBytes != 0) {
    throw Error(ErrorKind::kInvalidArgument,
                "XTS works on whole 512-byte sectors");
  }
  // One context per thread and key: the key schedule is made once.
  thread_local std::unique_ptr<EVP_CIPHER_CTX, CtxFree> ctx;
  thread_local XtsKey ctx_key{};
  thread_local int ctx_enc = -1;
  if (!ctx) {
    ctx.reset(EVP_CIPHER_CTX_new());
  }
  if (ctx_enc != static_cast<int>(enc) ||
      std::memcmp(ctx_key.data(), key_.data(), key_.size()) != 0) {
    if (EVP_CipherInit_ex(ctx.get(), EVP_aes_256_xts(), nullptr, key_.data(),
                          nullptr, enc ? 1 : 0) != 1) {
      throw Error(ErrorKind::kIo, "OpenSSL cannot set up AES-256-XTS");
    }
    ctx_key = key_;
    ctx_enc = enc;
  }
  for (size_t pos = 0; pos < data.size(); pos += kSectorBytes) {
    uint8_t iv[16] = {};
    uint64_t sector = first_sector + pos / kSectorBytes;
    for (int i = 0; i < 8; ++i) {  // plain64: little-endian
      iv[i] = static_cast<uint8_t>(sector >> (8 * i));
    }
    auto* p = reinterpret_cast<unsigned char*>(data.data() + pos);
    int out = 0;
    if (EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, nullptr, iv, -1) != 1 ||
        EVP_CipherUpdate(ctx.get(), p, &out, p, kSectorBytes) != 1 ||
        out != static_cast<int>(kSectorBytes)) {
      throw Error(ErrorKind::kIo, "OpenSSL's AES-256-XTS failed");
    }
  }
}

}  // namespace sendense::crypto
