#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

struct nbd_handle;

namespace sendense {

inline constexpr const char* kBaseAllocation = "base:allocation";
inline constexpr uint32_t kNbdStateHole = 1;   // base:allocation
inline constexpr uint32_t kNbdStateZero = 2;   // base:allocation
inline constexpr uint32_t kNbdStateDirty = 1;  // qemu:dirty-bitmap:*

// Where an NBD export is: any libnbd URI, and for nbds:// (TLS) the
// directory of the client's certificates (ca-cert.pem, client-cert.pem,
// client-key.pem, as libnbd and qemu name them; empty: libnbd's default,
// $HOME/.pki/libnbd or /etc/pki/libnbd). The server's certificate is
// always verified against that CA.
struct NbdEndpoint {
  std::string uri;
  std::string tls_certificates;
};

// The name of the metadata context of a QEMU dirty bitmap.
std::string DirtyBitmapContext(const std::string& bitmap);

// One connection to an NBD export through libnbd, read-only. Every wait
// on the server is bounded by `timeout` (Error kTimeout). Errors from the
// server or the socket are Error kIo. Not thread-safe: use one connection
// per thread (see CanMultiConn).
class NbdConnection {
 public:
  struct Extent {
    uint64_t offset;
    uint64_t length;
    uint32_t flags;
  };
  // A block of data that has arrived: `data` is valid during the call.
  using DataSink =
      std::function<void(uint64_t offset, std::span<const std::byte> data)>;

  // Connects to `endpoint`, asking for `meta_contexts`.
  NbdConnection(const NbdEndpoint& endpoint,
                const std::vector<std::string>& meta_contexts,
                std::chrono::milliseconds timeout);
  ~NbdConnection();
  NbdConnection(const NbdConnection&) = delete;
  NbdConnection& operator=(const NbdConnection&) = delete;

  uint64_t size() const { return size_; }
  bool CanMultiConn() const;
  bool CanMetaContext(const std::string& context) const;

  // The extents of `context` covering [offset, offset + length), in order
  // and merged when adjacent with equal flags.
  std::vector<Extent> BlockStatus(const std::string& context,
                                  uint64_t offset,
                                  uint64_t length);

  // Reads every range in `ranges` (each at most `max_request` bytes) with
  // up to `max_in_flight` requests outstanding and gives each to `sink` in
  // this thread as it completes, in any order.
  struct Range {
    uint64_t offset;
    uint64_t length;
  };
  void ReadRanges(std::span<const Range> ranges,
                  size_t max_in_flight,
                  size_t max_request,
                  const DataSink& sink);

 private:
  [[noreturn]] void Fail(const std::string& what) const;
  // For a failed connection: "no NBD server answers at URI" when none
  // listens there, else Fail.
  [[noreturn]] void FailToConnect() const;
  // Waits for command `cookie`; throws on error or timeout.
  void Wait(int64_t cookie, const std::string& what);
  // `connecting`: a failure is one to connect (FailToConnect).
  void PollOnce(const std::string& what, bool connecting = false);

  struct Close {
    void operator()(nbd_handle* h) const;
  };
  // Owned from creation: a constructor that throws closes it too.
  std::unique_ptr<nbd_handle, Close> h_;
  std::string uri_;
  bool tls_ = false;
  std::chrono::milliseconds timeout_;
  uint64_t size_ = 0;
};

}  // namespace sendense
