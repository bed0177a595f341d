#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace sendense {

// An owned file descriptor with positional I/O that retries short transfers
// and EINTR. Every method throws sendense::Error (kIo, kNoSpace) on failure.
// Positional reads and writes are safe to call from many threads at once.
class File {
 public:
  File() = default;
  explicit File(int fd) : fd_(fd) {}
  File(File&& other) noexcept : fd_(other.Release()) {}
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File();

  // Opens `path` read-only (O_CLOEXEC).
  static File OpenReadOnly(const std::string& path);
  // Creates `path`, which must not exist, for reading and writing.
  static File CreateExclusive(const std::string& path, int mode = 0644);
  // Opens an existing `path` for reading and writing (O_CLOEXEC).
  static File OpenReadWrite(const std::string& path);

  int fd() const { return fd_; }
  bool is_open() const { return fd_ >= 0; }
  int Release();

  // Reads exactly buf.size() bytes at `offset`; throws on a short file.
  void ReadExact(std::span<std::byte> buf, uint64_t offset) const;
  // Reads up to buf.size() bytes at `offset`; returns the count (short only
  // at end of file).
  size_t ReadAt(std::span<std::byte> buf, uint64_t offset) const;
  // Writes all of `buf` at `offset`.
  void WriteAll(std::span<const std::byte> buf, uint64_t offset) const;
  uint64_t Size() const;
  // Bytes the file takes on disk (allocated blocks; holes take none).
  uint64_t AllocatedBytes() const;
  void Sync() const;
  // Asks the kernel to start writing [offset, offset + length) back to disk
  // without waiting, so that a later Sync() has little left to do.
  void StartWriteback(uint64_t offset, uint64_t length) const;
  // Waits until [offset, offset + length) is on disk, then drops it from the
  // page cache: data written once and not read back soon should not push
  // everything else out of memory (nbdcopy does the same).
  void FlushAndDropCache(uint64_t offset, uint64_t length) const;
  // Returns [offset, offset + length) to the filesystem (the range reads as
  // zeros; the file keeps its size).
  void PunchHole(uint64_t offset, uint64_t length) const;
  void Truncate(uint64_t size) const;
  // Copies `length` bytes at `from` in `source` to `to` in this file, in
  // the kernel where it can (copy_file_range: no user-space copy, a reflink
  // where the filesystem shares blocks).
  void CopyFrom(const File& source,
                uint64_t from,
                uint64_t to,
                uint64_t length) const;

 private:
  int fd_ = -1;
};

// fsyncs the directory `dir` so that a rename or create inside it is durable.
void SyncDirectory(const std::string& dir);

// Replaces `path` with `text` crash-safely: written to "<path>.tmp",
// synced, renamed over `path`, the directory synced.
void WriteFileAtomically(const std::string& path,
                         std::string_view text,
                         int mode = 0644);

// Whether `path` (which need not exist) is `dir` or lies below it, with
// the symlinks of what exists resolved.
bool PathInside(const std::string& path, const std::string& dir);

// Whether every byte of `data` is zero.
bool IsZero(std::span<const std::byte> data);

}  // namespace sendense
