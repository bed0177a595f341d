// A restore target that is a writable NBD server (a new VM disk): data as
// NBD writes and zero ranges as write-zeroes (the server may punch holes),
// several writes in flight per connection, several connections where the
// server allows multi-conn (each flushed at the end).

#include <libnbd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/error.h"
#include "engine/restore/restore_target.h"

namespace sendense::restore {
namespace {

constexpr int64_t kMaxInFlight = 16;
constexpr int kPollTimeoutMs = 60000;
constexpr int kPollSliceMs = 100;  // how soon a cancel is seen
constexpr uint64_t kZeroBufferBytes = uint64_t{2} << 20;

struct CloseHandle {
  void operator()(nbd_handle* h) const { nbd_close(h); }
};
using Handle = std::unique_ptr<nbd_handle, CloseHandle>;

// A write in flight: its buffer, and where to report an error.
struct InFlight {
  std::vector<std::byte> data;
  uint64_t offset = 0;
  std::atomic<int>* error = nullptr;
  std::atomic<uint64_t>* error_offset = nullptr;
};

int Completed(void* user_data, int* error) {
  auto* w = static_cast<InFlight*>(user_data);
  if (*error != 0) {
    int expected = 0;
    if (w->error->compare_exchange_strong(expected, *error)) {
      w->error_offset->store(w->offset);
    }
  }
  return 1;  // retire the command
}

void Free(void* user_data) {
  delete static_cast<InFlight*>(user_data);
}

class NbdTarget : public RestoreTarget {
 public:
  NbdTarget(const std::string& uri, const TargetOptions& options)
      : uri_(uri), zeros_(kZeroBufferBytes), cancel_(options.cancel) {
    lanes_.push_back(Connect());
    nbd_handle* h = lanes_[0].get();
    const int64_t size = nbd_get_size(h);
    if (size < 0) {
      Fail("cannot read the export's size");
    }
    if (static_cast<uint64_t>(size) < options.disk_size) {
      throw Error(ErrorKind::kInvalidArgument,
                  "cannot restore to " + uri + ": the export holds " +
                      std::to_string(size) + " bytes, less than the disk's " +
                      std::to_string(options.disk_size));
    }
    if (nbd_is_read_only(h) == 1) {
      throw Error(ErrorKind::kInvalidArgument,
                  "cannot restore to " + uri + ": the export is read-only");
    }
    can_zero_ = nbd_can_zero(h) == 1;
    can_flush_ = nbd_can_flush(h) == 1;
    const int64_t max = nbd_get_block_size(h, LIBNBD_SIZE_MAXIMUM);
    max_request_ = max > 0 ? static_cast<uint64_t>(max) : uint64_t{32} << 20;
    if (nbd_can_multi_conn(h) == 1) {
      while (lanes_.size() < std::max(1u, options.max_connections)) {
        lanes_.push_back(Connect());
      }
    }
  }

  unsigned lanes() const override {
    return static_cast<unsigned>(lanes_.size());
  }

  void Write(unsigned lane,
             uint64_t offset,
             std::span<const std::byte> data) override {
    for (uint64_t done = 0; done < data.size(); done += max_request_) {
      const auto piece = data.subspan(
          done, std::min<uint64_t>(max_request_, data.size() - done));
      auto* w = new InFlight{
          {piece.begin(), piece.end()}, offset + done, &error_, &error_offset_};
      Submit(lane,
             nbd_aio_pwrite(lanes_[lane].get(), w->data.data(), w->data.size(),
                            w->offset, {Completed, w, Free}, 0));
    }
  }

  void Zero(unsigned lane, uint64_t offset, uint64_t length) override {
    for (uint64_t done = 0; done < length;) {
      if (can_zero_) {
        const uint64_t n = std::min<uint64_t>(length - done, uint64_t{1} << 30);
        auto* w = new InFlight{{}, offset + done, &error_, &error_offset_};
        Submit(lane, nbd_aio_zero(lanes_[lane].get(), n, w->offset,
                                  {Completed, w, Free}, 0));
        done += n;
      } else {
        const uint64_t n = std::min<uint64_t>(
            {length - done, uint64_t{zeros_.size()}, max_request_});
        auto* w = new InFlight{{}, offset + done, &error_, &error_offset_};
        Submit(lane, nbd_aio_pwrite(lanes_[lane].get(), zeros_.data(), n,
                                    w->offset, {Completed, w, Free}, 0));
        done += n;
      }
    }
  }

  void Finish() override {
    for (unsigned lane = 0; lane < lanes_.size(); ++lane) {
      Drain(lane, 0);
    }
    for (auto& h : lanes_) {
      if (can_flush_ && nbd_flush(h.get(), 0) != 0) {
        Fail("cannot flush the written data");
      }
      nbd_shutdown(h.get(), 0);
    }
  }

  const char* kind() const override { return "nbd"; }

 private:
  Handle Connect() {
    Handle h(nbd_create());
    if (!h) {
      Fail("cannot create an NBD handle");
    }
    if (nbd_connect_uri(h.get(), uri_.c_str()) != 0) {
      Fail("cannot connect");
    }
    return h;
  }

  [[noreturn]] void Fail(const std::string& what) const {
    const char* err = nbd_get_error();
    throw Error(ErrorKind::kIo,
                "NBD target " + uri_ + ": " + what +
                    (err ? std::string(": ") + err : std::string()),
                nbd_get_errno());
  }

  void Submit(unsigned lane, int64_t cookie) {
    if (cookie < 0) {
      Fail("cannot send a request");
    }
    Drain(lane, kMaxInFlight - 1);
  }

  // Waits until at most `keep` commands of `lane` are in flight.
  void Drain(unsigned lane, int64_t keep) {
    nbd_handle* h = lanes_[lane].get();
    int waited_ms = 0;
    while (nbd_aio_in_flight(h) > keep) {
      if (cancel_ != nullptr && cancel_->load()) {
        throw Error(ErrorKind::kCancelled, "the restore was cancelled");
      }
      const int rc = nbd_poll(h, kPollSliceMs);
      if (rc < 0) {
        Fail("the connection failed");
      }
      waited_ms = rc == 0 ? waited_ms + kPollSliceMs : 0;
      if (waited_ms >= kPollTimeoutMs) {
        throw Error(ErrorKind::kTimeout,
                    "NBD target " + uri_ + " did not answer within " +
                        std::to_string(kPollTimeoutMs / 1000) + " s");
      }
    }
    if (const int e = error_.load()) {
      throw Error(e == ENOSPC ? ErrorKind::kNoSpace : ErrorKind::kIo,
                  "NBD target " + uri_ + " failed a write at offset " +
                      std::to_string(error_offset_.load()) + ": " +
                      std::strerror(e),
                  e);
    }
  }

  std::string uri_;
  std::vector<Handle> lanes_;
  std::vector<std::byte> zeros_;
  bool can_zero_ = false;
  bool can_flush_ = false;
  uint64_t max_request_ = 0;
  const std::atomic<bool>* cancel_ = nullptr;
  std::atomic<int> error_{0};
  std::atomic<uint64_t> error_offset_{0};
};

}  // namespace

std::unique_ptr<RestoreTarget> OpenNbdTarget(const std::string& uri,
                                             const TargetOptions& options) {
  return std::make_unique<NbdTarget>(uri, options);
}

}  // namespace sendense::restore
