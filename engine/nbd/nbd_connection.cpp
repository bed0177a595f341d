#include "engine/nbd/nbd_connection.h"

#include <libnbd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "engine/error.h"
#include "engine/io/nbd_uri.h"

namespace sendense {

std::string DirtyBitmapContext(const std::string& bitmap) {
  return "qemu:dirty-bitmap:" + bitmap;
}

NbdConnection::NbdConnection(const NbdEndpoint& endpoint,
                             const std::vector<std::string>& meta_contexts,
                             std::chrono::milliseconds timeout)
    : uri_(endpoint.uri), tls_(IsTlsNbdUri(endpoint.uri)), timeout_(timeout) {
  RequireNbdTls(endpoint.uri, endpoint.tls_certificates);
  h_.reset(nbd_create());
  if (!h_) {
    Fail("cannot create an NBD handle");
  }
  nbd_set_pread_initialize(h_.get(), false);
  if (!endpoint.tls_certificates.empty() &&
      nbd_set_tls_certificates(h_.get(), endpoint.tls_certificates.c_str()) !=
          0) {
    Fail("cannot use the TLS certificates in " + endpoint.tls_certificates);
  }
  for (const auto& c : meta_contexts) {
    if (nbd_add_meta_context(h_.get(), c.c_str()) != 0) {
      Fail("cannot request " + c);
    }
  }
  if (nbd_aio_connect_uri(h_.get(), uri_.c_str()) != 0) {
    FailToConnect();
  }
  while (nbd_aio_is_connecting(h_.get()) || nbd_aio_is_negotiating(h_.get()) ||
         nbd_aio_is_created(h_.get())) {
    PollOnce("connecting", /*connecting=*/true);
  }
  if (!nbd_aio_is_ready(h_.get())) {
    FailToConnect();
  }
  const int64_t size = nbd_get_size(h_.get());
  if (size < 0) {
    Fail("cannot get the export size");
  }
  size_ = static_cast<uint64_t>(size);
}

NbdConnection::~NbdConnection() = default;

void NbdConnection::Close::operator()(nbd_handle* h) const {
  nbd_close(h);
}

void NbdConnection::Fail(const std::string& what) const {
  const char* err = nbd_get_error();
  const int code = nbd_get_errno();
  throw Error(ErrorKind::kIo,
              "NBD source " + uri_ + ": " + what +
                  (err ? std::string(": ") + err : std::string()),
              code);
}

void NbdConnection::FailToConnect() const {
  const int code = nbd_get_errno();
  if (code == ENOENT || code == ECONNREFUSED || code == EHOSTUNREACH ||
      code == ENETUNREACH || code == ECONNRESET) {
    throw Error(ErrorKind::kIo,
                "no NBD server answers at " + uri_ + " (" +
                    std::strerror(code) +
                    "): is its server (qemu-nbd, nbdkit, the VM's qemu) "
                    "running?",
                code);
  }
  const char* err = nbd_get_error();
  if (!tls_ && err != nullptr && std::strstr(err, "requires TLS") != nullptr) {
    throw Error(ErrorKind::kIo,
                "the NBD server at " + uri_ +
                    " requires TLS: give an nbds:// URI and the client "
                    "certificates (--nbd-tls DIR)",
                code);
  }
  if (tls_) {
    throw Error(ErrorKind::kIo,
                "NBD source " + uri_ + ": the TLS connection failed (" +
                    (err ? std::string(err) : std::string("no reason given")) +
                    "): check that the server's certificate is signed by the "
                    "CA in the certificates given (ca-cert.pem), is valid "
                    "now and names this host, and that the client "
                    "certificate is one the server accepts",
                code);
  }
  Fail("cannot connect");
}

bool NbdConnection::CanMultiConn() const {
  return nbd_can_multi_conn(h_.get()) == 1;
}

bool NbdConnection::CanMetaContext(const std::string& context) const {
  return nbd_can_meta_context(h_.get(), context.c_str()) == 1;
}

void NbdConnection::PollOnce(const std::string& what, bool connecting) {
  const int rc = nbd_poll(h_.get(), static_cast<int>(timeout_.count()));
  if (rc < 0 && connecting) {
    FailToConnect();
  }
  if (rc < 0) {
    Fail(what);
  }
  if (rc == 0) {
    throw Error(ErrorKind::kTimeout,
                "NBD source " + uri_ + " did not answer within " +
                    std::to_string(timeout_.count() / 1000.0).substr(0, 4) +
                    " s while " + what);
  }
}

void NbdConnection::Wait(int64_t cookie, const std::string& what) {
  if (cookie < 0) {
    Fail(what);
  }
  while (true) {
    const int rc =
        nbd_aio_command_completed(h_.get(), static_cast<uint64_t>(cookie));
    if (rc == 1) {
      return;
    }
    if (rc < 0) {
      Fail(what);
    }
    PollOnce(what);
  }
}

std::vector<NbdConnection::Extent> NbdConnection::BlockStatus(
    const std::string& context,
    uint64_t offset,
    uint64_t length) {
  struct Collector {
    const std::string* context;
    std::vector<Extent>* out;
    uint64_t end;
  };
  std::vector<Extent> out;
  const uint64_t end = offset + length;
  uint64_t pos = offset;
  while (pos < end) {
    // One request covers at most 2 GiB (the protocol's length is 32 bits).
    const uint64_t count = std::min<uint64_t>(end - pos, uint64_t{1} << 31);
    const size_t before = out.size();
    Collector collector{&context, &out, pos + count};
    nbd_extent_callback cb{};
    cb.user_data = &collector;
    cb.callback = [](void* user, const char* metacontext, uint64_t off,
                     uint32_t* entries, size_t nr, int*) -> int {
      auto* c = static_cast<Collector*>(user);
      if (*c->context != metacontext) {
        return 0;
      }
      for (size_t i = 0; i + 1 < nr && off < c->end; i += 2) {
        const uint64_t len = std::min<uint64_t>(entries[i], c->end - off);
        c->out->push_back({off, len, entries[i + 1]});
        off += len;
      }
      return 0;
    };
    const int64_t cookie =
        nbd_aio_block_status(h_.get(), count, pos, cb, NBD_NULL_COMPLETION, 0);
    Wait(cookie, "querying " + context);
    if (out.size() == before) {
      throw Error(ErrorKind::kIo, "NBD source " + uri_ + " returned no " +
                                      context + " extents at " +
                                      std::to_string(pos));
    }
    pos = out.back().offset + out.back().length;
  }
  // Merge neighbours with equal flags.
  std::vector<Extent> merged;
  for (const Extent& e : out) {
    if (!merged.empty() && merged.back().flags == e.flags &&
        merged.back().offset + merged.back().length == e.offset) {
      merged.back().length += e.length;
    } else {
      merged.push_back(e);
    }
  }
  return merged;
}

void NbdConnection::ReadRanges(std::span<const Range> ranges,
                               size_t max_in_flight,
                               size_t max_request,
                               const DataSink& sink) {
  struct Slot {
    std::unique_ptr<std::byte[]> buf;
    Range range{};
    int64_t cookie = -1;
    bool busy = false;
  };
  std::vector<Slot> slots(std::max<size_t>(1, max_in_flight));
  for (auto& s : slots) {
    s.buf = std::make_unique<std::byte[]>(max_request);
  }
  size_t next = 0;
  size_t busy = 0;
  while (next < ranges.size() || busy > 0) {
    for (auto& s : slots) {
      if (s.busy || next >= ranges.size()) {
        continue;
      }
      s.range = ranges[next++];
      if (s.range.length > max_request) {
        throw Error(ErrorKind::kInvalidArgument,
                    "NBD read larger than a buffer");
      }
      s.cookie = nbd_aio_pread(h_.get(), s.buf.get(), s.range.length,
                               s.range.offset, NBD_NULL_COMPLETION, 0);
      if (s.cookie < 0) {
        Fail("read at " + std::to_string(s.range.offset));
      }
      s.busy = true;
      ++busy;
    }
    PollOnce("reading");
    for (auto& s : slots) {
      if (!s.busy) {
        continue;
      }
      const int rc =
          nbd_aio_command_completed(h_.get(), static_cast<uint64_t>(s.cookie));
      if (rc == 0) {
        continue;
      }
      if (rc < 0) {
        Fail("read of " + std::to_string(s.range.length) + " bytes at " +
             std::to_string(s.range.offset) + " failed");
      }
      s.busy = false;
      --busy;
      sink(s.range.offset,
           std::span<const std::byte>(s.buf.get(), s.range.length));
    }
  }
}

}  // namespace sendense
