#include "engine/io/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "engine/error.h"

namespace sendense {

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = other.Release();
  }
  return *this;
}

File::~File() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

int File::Release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

namespace {

int OpenExisting(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      throw Error(ErrorKind::kNotFound,
                  "cannot open " + path + ": no such file", ENOENT);
    }
    ThrowSystemError("cannot open " + path);
  }
  return fd;
}

}  // namespace

File File::OpenReadOnly(const std::string& path) {
  return File(OpenExisting(path, O_RDONLY));
}

File File::CreateExclusive(const std::string& path, int mode) {
  const int fd =
      ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) {
      throw Error(ErrorKind::kAlreadyExists,
                  "cannot create " + path + ": it already exists", EEXIST);
    }
    ThrowSystemError("cannot create " + path);
  }
  return File(fd);
}

File File::OpenReadWrite(const std::string& path) {
  return File(OpenExisting(path, O_RDWR));
}

size_t File::ReadAt(std::span<std::byte> buf, uint64_t offset) const {
  size_t done = 0;
  while (done < buf.size()) {
    const ssize_t n = ::pread(fd_, buf.data() + done, buf.size() - done,
                              static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      ThrowSystemError("read failed");
    }
    if (n == 0) {
      break;
    }
    done += static_cast<size_t>(n);
  }
  return done;
}

void File::ReadExact(std::span<std::byte> buf, uint64_t offset) const {
  if (ReadAt(buf, offset) != buf.size()) {
    throw Error(ErrorKind::kCorrupt,
                "unexpected end of file at offset " + std::to_string(offset));
  }
}

void File::WriteAll(std::span<const std::byte> buf, uint64_t offset) const {
  size_t done = 0;
  while (done < buf.size()) {
    const ssize_t n = ::pwrite(fd_, buf.data() + done, buf.size() - done,
                               static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      ThrowSystemError("write failed");
    }
    done += static_cast<size_t>(n);
  }
}

uint64_t File::Size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    ThrowSystemError("fstat failed");
  }
  return static_cast<uint64_t>(st.st_size);
}

uint64_t File::AllocatedBytes() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    ThrowSystemError("fstat failed");
  }
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

void File::Sync() const {
  if (::fsync(fd_) != 0) {
    ThrowSystemError("fsync failed");
  }
}

void File::StartWriteback(uint64_t offset, uint64_t length) const {
  // Advisory: a failure here shows up again at Sync().
  (void)::sync_file_range(fd_, static_cast<off_t>(offset),
                          static_cast<off_t>(length), SYNC_FILE_RANGE_WRITE);
}

void File::FlushAndDropCache(uint64_t offset, uint64_t length) const {
  // Advisory as well: a write error still surfaces at Sync().
  (void)::sync_file_range(fd_, static_cast<off_t>(offset),
                          static_cast<off_t>(length),
                          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                              SYNC_FILE_RANGE_WAIT_AFTER);
  (void)::posix_fadvise(fd_, static_cast<off_t>(offset),
                        static_cast<off_t>(length), POSIX_FADV_DONTNEED);
}

void File::PunchHole(uint64_t offset, uint64_t length) const {
  if (length == 0) {
    return;
  }
  if (::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  static_cast<off_t>(offset),
                  static_cast<off_t>(length)) != 0 &&
      errno != EOPNOTSUPP) {
    ThrowSystemError("cannot free space in the file");
  }
}

void File::Truncate(uint64_t size) const {
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    ThrowSystemError("cannot truncate the file");
  }
}

void File::CopyFrom(const File& source,
                    uint64_t from,
                    uint64_t to,
                    uint64_t length) const {
  bool in_kernel = true;
  while (length > 0) {
    if (in_kernel) {
      auto in = static_cast<loff_t>(from);
      auto out = static_cast<loff_t>(to);
      const ssize_t n = ::copy_file_range(source.fd(), &in, fd_, &out,
                                          static_cast<size_t>(length), 0);
      if (n > 0) {
        from += static_cast<uint64_t>(n);
        to += static_cast<uint64_t>(n);
        length -= static_cast<uint64_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0 && errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
          errno != EOPNOTSUPP) {
        ThrowSystemError("copy failed");
      }
      in_kernel = false;  // not here (or a short source): copy by hand
    }
    std::vector<std::byte> buf(std::min<uint64_t>(length, 4 << 20));
    const size_t n = source.ReadAt(buf, from);
    std::fill(buf.begin() + static_cast<std::ptrdiff_t>(n), buf.end(),
              std::byte{0});  // past the source's end reads as zeros
    WriteAll(buf, to);
    from += buf.size();
    to += buf.size();
    length -= buf.size();
  }
}

void SyncDirectory(const std::string& dir) {
  File d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!d.is_open()) {
    ThrowSystemError("cannot open directory " + dir);
  }
  d.Sync();
}

void WriteFileAtomically(const std::string& path,
                         std::string_view text,
                         int mode) {
  const std::string temp = path + ".tmp";
  ::unlink(temp.c_str());  // a crashed writer's leftover
  {
    const File f = File::CreateExclusive(temp, mode);
    f.WriteAll(std::as_bytes(std::span(text)), 0);
    f.Sync();
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    ThrowSystemError("cannot replace " + path);
  }
  const auto slash = path.rfind('/');
  SyncDirectory(slash == std::string::npos ? "." : path.substr(0, slash + 1));
}

bool PathInside(const std::string& path, const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto resolved = [&ec](const std::string& p) {
    std::string s = fs::weakly_canonical(fs::absolute(p), ec).string();
    while (s.size() > 1 && s.back() == '/') {
      s.pop_back();
    }
    return s;
  };
  const std::string p = resolved(path) + "/";
  const std::string d = resolved(dir) + "/";
  return !ec && p.compare(0, d.size(), d) == 0;
}

bool IsZero(std::span<const std::byte> data) {
  // Word-at-a-time scan; the compiler vectorises it.
  const std::byte* p = data.data();
  size_t n = data.size();
  while (n >= 64) {
    uint64_t acc = 0;
    for (int i = 0; i < 8; ++i) {
      uint64_t w;
      std::memcpy(&w, p + i * 8, 8);
      acc |= w;
    }
    if (acc != 0) {
      return false;
    }
    p += 64;
    n -= 64;
  }
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != std::byte{0}) {
      return false;
    }
  }
  return true;
}

}  // namespace sendense
