#include "engine/backup/disk_copier.h"

#include <algorithm>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/error.h"

namespace sendense {

void CopyDisk(std::unique_ptr<NbdConnection> first,
              const std::string& uri,
              const CopyPlan& plan,
              qcow2::PointWriter& writer,
              const CopyOptions& options,
              std::atomic<uint64_t>& bytes_done,
              const std::atomic<bool>& cancel) {
  for (const ByteRange& z : plan.zeros) {
    writer.WriteZeroes(z.offset, z.length);
    bytes_done += z.length;
  }

  // Requests never cross a multiple of request_bytes (a whole number of
  // clusters), so each one is whole clusters for the writer.
  const uint64_t step =
      std::max<uint64_t>(options.request_bytes, writer.cluster_size());
  std::vector<NbdConnection::Range> requests;
  for (const ByteRange& r : plan.data) {
    for (uint64_t off = r.offset; off < r.end();) {
      const uint64_t end = std::min(r.end(), (off / step + 1) * step);
      requests.push_back({off, end - off});
      off = end;
    }
  }
  if (requests.empty()) {
    return;
  }

  const size_t workers =
      first->CanMultiConn()
          ? std::clamp<size_t>(options.connections, 1, requests.size())
          : 1;
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex error_mutex;
  std::exception_ptr error;
  constexpr size_t kBatch = 64;

  auto work = [&](NbdConnection* conn) {
    try {
      std::unique_ptr<NbdConnection> own;
      if (conn == nullptr) {
        own = std::make_unique<NbdConnection>(uri, std::vector<std::string>{},
                                              options.timeout);
        conn = own.get();
      }
      while (!stop) {
        const size_t begin = next.fetch_add(kBatch);
        if (begin >= requests.size()) {
          break;
        }
        const size_t n = std::min(kBatch, requests.size() - begin);
        conn->ReadRanges(
            std::span(requests).subspan(begin, n), options.in_flight, step,
            [&](uint64_t offset, std::span<const std::byte> data) {
              if (cancel || stop) {
                throw Error(ErrorKind::kCancelled, "backup cancelled");
              }
              writer.WriteData(offset, data);
              bytes_done += data.size();
            });
      }
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!error) {
        error = std::current_exception();
      }
      stop = true;
    }
  };

  std::vector<std::thread> threads;
  for (size_t i = 1; i < workers; ++i) {
    threads.emplace_back(work, nullptr);
  }
  work(first.get());
  for (auto& t : threads) {
    t.join();
  }
  if (error) {
    std::rethrow_exception(error);
  }
}

}  // namespace sendense
