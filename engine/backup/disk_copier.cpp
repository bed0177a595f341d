#include "engine/backup/disk_copier.h"

#include <algorithm>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/error.h"

namespace sendense {

void CopyDisk(std::unique_ptr<NbdConnection> first,
              const NbdEndpoint& endpoint,
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
  // clusters), so each one is whole clusters for the writer. They are cut
  // from the plan lazily, a batch at a time, so memory does not grow with
  // the disk.
  const uint64_t step =
      std::max<uint64_t>(options.request_bytes, writer.cluster_size());
  if (plan.data.empty()) {
    return;
  }
  std::mutex cursor_mutex;
  size_t range_index = 0;
  uint64_t range_pos = plan.data.front().offset;
  auto next_batch = [&](std::vector<NbdConnection::Range>& batch) {
    constexpr size_t kBatch = 64;
    batch.clear();
    std::lock_guard lock(cursor_mutex);
    while (batch.size() < kBatch && range_index < plan.data.size()) {
      const ByteRange& r = plan.data[range_index];
      const uint64_t end = std::min(r.end(), (range_pos / step + 1) * step);
      batch.push_back({range_pos, end - range_pos});
      range_pos = end;
      if (range_pos >= r.end() && ++range_index < plan.data.size()) {
        range_pos = plan.data[range_index].offset;
      }
    }
    return !batch.empty();
  };

  const size_t workers =
      first->CanMultiConn() ? std::max<size_t>(options.connections, 1) : 1;
  std::atomic<bool> stop{false};
  std::mutex error_mutex;
  std::exception_ptr error;

  auto work = [&](NbdConnection* conn) {
    try {
      std::unique_ptr<NbdConnection> own;
      if (conn == nullptr) {
        own = std::make_unique<NbdConnection>(
            endpoint, std::vector<std::string>{}, options.timeout);
        conn = own.get();
      }
      std::vector<NbdConnection::Range> batch;
      while (!stop && next_batch(batch)) {
        conn->ReadRanges(batch, options.in_flight, step,
                         [&](uint64_t offset, std::span<const std::byte> data) {
                           if (cancel || stop) {
                             throw Error(ErrorKind::kCancelled,
                                         "backup cancelled");
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

  {
    // Joined on every path out, also when starting one of them fails.
    std::vector<std::jthread> threads;
    try {
      for (size_t i = 1; i < workers; ++i) {
        threads.emplace_back(work, nullptr);
      }
    } catch (...) {
      stop = true;
      throw;
    }
    work(first.get());
  }
  if (error) {
    std::rethrow_exception(error);
  }
}

}  // namespace sendense
