#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/backup/copy_plan.h"
#include "engine/nbd/nbd_connection.h"
#include "engine/qcow2/point_writer.h"

namespace sendense {

struct CopyOptions {
  size_t connections = 4;  // used when the server allows multi-conn
  size_t in_flight = 16;   // requests outstanding per connection
  size_t request_bytes = 256 << 10;
  std::chrono::milliseconds timeout{30000};
};

// Copies `plan` from the export behind `first` (already connected) into
// `writer`: zero ranges are recorded without reading, data ranges are read
// with asynchronous requests on one connection per thread (more than one
// only when the server advertises multi-conn) and written as they arrive.
// `bytes_done` counts data and zero bytes handled. Stops with Error
// kCancelled when `cancel` becomes true. Throws the first error any
// connection met.
void CopyDisk(std::unique_ptr<NbdConnection> first,
              const NbdEndpoint& endpoint,
              const CopyPlan& plan,
              qcow2::PointWriter& writer,
              const CopyOptions& options,
              std::atomic<uint64_t>& bytes_done,
              const std::atomic<bool>& cancel);

}  // namespace sendense
