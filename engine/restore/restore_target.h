#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "engine/io/nbd_uri.h"

namespace sendense::restore {

// Where a restore writes a disk. Writes come from several threads, each
// on its own lane (0 .. lanes() - 1), never two threads on one lane;
// ranges are disjoint and 64 KiB aligned (the last may end at the disk's
// end). Zero() makes a range read as zeros, as cheaply as the target can
// (a hole, NBD write-zeroes). Finish() is called once, after every write
// returned, and makes everything durable; a target not finished leaves a
// file behind that the caller removes (Discard). Errors are
// sendense::Error.
class RestoreTarget {
 public:
  virtual ~RestoreTarget() = default;
  virtual unsigned lanes() const = 0;
  virtual void Write(unsigned lane,
                     uint64_t offset,
                     std::span<const std::byte> data) = 0;
  virtual void Zero(unsigned lane, uint64_t offset, uint64_t length) = 0;
  virtual void Finish() = 0;
  // Removes what a failed restore created (a new file); nothing for an
  // NBD server or a device.
  virtual void Discard() {}
  // "file", "qcow2", "block device" or "nbd".
  virtual const char* kind() const = 0;
};

struct TargetOptions {
  uint64_t disk_size = 0;
  bool force = false;            // overwrite an existing file or device
  std::string repository;        // refused as a place to write to
  unsigned max_connections = 4;  // NBD, when the server allows multi-conn
  std::string sums_path;         // qcow2: write its cluster digests here
  std::string luks_passphrase;   // qcow2: encrypt it with LUKS ("" plain)
  // Set to stop: waits on a slow target end with Error kCancelled.
  const std::atomic<bool>* cancel = nullptr;
};

// Opens `target`: an NBD URI (nbd://, nbds://, nbd+unix://...), a path
// ending in .qcow2 (a standalone QCOW2 image), a block device, or a path
// for a sparse raw file. Refuses, with one sentence and nothing written: a
// target smaller than the disk, a path inside the repository, an existing
// file or device without `force`, a read-only NBD export.
std::unique_ptr<RestoreTarget> OpenTarget(const std::string& target,
                                          const TargetOptions& options);

// The NBD kind of target (nbd_target.cpp).
std::unique_ptr<RestoreTarget> OpenNbdTarget(const std::string& uri,
                                             const TargetOptions& options);

}  // namespace sendense::restore
