// The targets a restore writes to that are paths: a sparse raw file, a
// standalone QCOW2 image, a block device. New files are written under a
// temporary name beside the target and renamed over it once complete and
// durable, so that a target never appears half-written.

#include "engine/restore/restore_target.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <optional>
#include <vector>

#include "engine/error.h"
#include "engine/io/file.h"
#include "engine/io/leftovers.h"
#include "engine/qcow2/point_writer.h"

namespace sendense::restore {
namespace {

namespace fs = std::filesystem;

constexpr unsigned kFileLanes = 4;

// `path` with its directory resolved (the file itself may not exist).
fs::path Resolved(const std::string& path) {
  const fs::path p = fs::absolute(path);
  std::error_code ec;
  const fs::path dir = fs::canonical(p.parent_path(), ec);
  if (ec) {
    throw Error(ErrorKind::kNotFound,
                "cannot restore to " + path + ": its folder " +
                    p.parent_path().string() + " does not exist");
  }
  return dir / p.filename();
}

void RefuseInsideRepository(const fs::path& target,
                            const std::string& original,
                            const std::string& repository) {
  if (PathInside(target, repository)) {
    throw Error(ErrorKind::kInvalidArgument,
                "cannot restore to " + original +
                    ": it is inside the repository " + repository +
                    ", whose files only Sendense writes");
  }
}

// A new file written under ".<name>.restoring" and renamed at the end.
class NewFile {
 public:
  // Noted in `repository`/restoring while it exists (LeftoverNote).
  NewFile(const fs::path& target,
          const std::string& shown,
          const std::string& repository)
      : target_(target),
        temp_(target.parent_path() /
              ("." + target.filename().string() + ".restoring")),
        shown_(shown) {
    fs::remove(temp_);  // a crashed restore's leftover
    if (!repository.empty()) {
      note_.emplace(repository + "/restoring", temp_.string());
    }
  }
  const std::string temp() const { return temp_.string(); }
  void Publish(const File& file) const {
    file.Sync();
    std::error_code ec;
    fs::rename(temp_, target_, ec);
    ThrowIfFailed(ec, "cannot rename the restored file to " + shown_);
    SyncDirectory(target_.parent_path().string());
  }
  void Discard() const {
    std::error_code ec;
    fs::remove(temp_, ec);
  }

 private:
  fs::path target_, temp_;
  std::string shown_;
  std::optional<LeftoverNote> note_;
};

class RawFileTarget : public RestoreTarget {
 public:
  RawFileTarget(const fs::path& target,
                const std::string& shown,
                uint64_t size,
                const std::string& repository)
      : file_name_(target, shown, repository) {
    file_ = File::CreateExclusive(file_name_.temp(), 0600);
    file_.Truncate(size);
  }
  unsigned lanes() const override { return kFileLanes; }
  void Write(unsigned,
             uint64_t offset,
             std::span<const std::byte> data) override {
    file_.WriteAll(data, offset);
  }
  void Zero(unsigned, uint64_t, uint64_t) override {}  // a hole already
  void Finish() override { file_name_.Publish(file_); }
  void Discard() override { file_name_.Discard(); }
  const char* kind() const override { return "file"; }

 private:
  NewFile file_name_;
  File file_;
};

class Qcow2FileTarget : public RestoreTarget {
 public:
  Qcow2FileTarget(const fs::path& target,
                  const std::string& shown,
                  uint64_t size,
                  const std::string& sums_path,
                  const std::string& repository,
                  const std::string& luks_passphrase)
      : file_name_(target, shown, repository) {
    qcow2::PointWriterOptions options;
    options.virtual_size = size;
    options.sums_path = sums_path;
    options.luks_passphrase = luks_passphrase;
    writer_.emplace(file_name_.temp(), options);
  }
  unsigned lanes() const override { return kFileLanes; }
  void Write(unsigned,
             uint64_t offset,
             std::span<const std::byte> data) override {
    writer_->WriteData(offset, data);
  }
  // Clusters never written read as zeros in a full image.
  void Zero(unsigned, uint64_t, uint64_t) override {}
  void Finish() override {
    writer_->Finish();  // fsyncs
    file_name_.Publish(File::OpenReadOnly(file_name_.temp()));
  }
  void Discard() override {
    writer_.reset();
    file_name_.Discard();
  }
  const char* kind() const override { return "qcow2"; }

 private:
  NewFile file_name_;
  std::optional<qcow2::PointWriter> writer_;
};

class BlockDeviceTarget : public RestoreTarget {
 public:
  BlockDeviceTarget(const std::string& path, uint64_t disk_size) {
    // O_EXCL: refused while the device is mounted or in use.
    const int fd = ::open(path.c_str(), O_RDWR | O_EXCL | O_CLOEXEC);
    if (fd < 0) {
      ThrowSystemError("cannot open the device " + path);
    }
    file_ = File(fd);
    uint64_t size = 0;
    if (::ioctl(file_.fd(), BLKGETSIZE64, &size) != 0) {
      ThrowSystemError("cannot read the size of " + path);
    }
    if (size < disk_size) {
      throw Error(ErrorKind::kInvalidArgument,
                  "cannot restore to " + path + ": it holds " +
                      std::to_string(size) + " bytes, less than the disk's " +
                      std::to_string(disk_size));
    }
  }
  unsigned lanes() const override { return kFileLanes; }
  void Write(unsigned,
             uint64_t offset,
             std::span<const std::byte> data) override {
    file_.WriteAll(data, offset);
  }
  void Zero(unsigned, uint64_t offset, uint64_t length) override {
    uint64_t range[2] = {offset, length};
    if (::ioctl(file_.fd(), BLKZEROOUT, &range) == 0) {
      return;
    }
    const std::vector<std::byte> zeros(std::min<uint64_t>(length, 1 << 20));
    for (uint64_t done = 0; done < length; done += zeros.size()) {
      const uint64_t n = std::min<uint64_t>(zeros.size(), length - done);
      file_.WriteAll(std::span(zeros).first(n), offset + done);
    }
  }
  void Finish() override { file_.Sync(); }
  const char* kind() const override { return "block device"; }

 private:
  File file_;
};

}  // namespace

std::unique_ptr<RestoreTarget> OpenTarget(const std::string& target,
                                          const TargetOptions& options) {
  if (target.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                "no target given: --to FILE, FILE.qcow2, a block device or "
                "an NBD URI");
  }
  if (target.find('\0') != std::string::npos) {
    throw Error(ErrorKind::kInvalidArgument,
                "a restore target cannot hold a NUL byte");
  }
  if (IsNbdUri(target)) {
    return OpenNbdTarget(target, options);
  }
  const fs::path path = Resolved(target);
  if (!options.repository.empty()) {
    ReclaimLeftovers(options.repository + "/restoring");
  }
  RefuseInsideRepository(path, target, options.repository);
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISBLK(st.st_mode)) {
      if (!options.force) {
        throw Error(ErrorKind::kAlreadyExists,
                    "cannot restore to the device " + target +
                        " without --force: everything on it is overwritten");
      }
      return std::make_unique<BlockDeviceTarget>(path.string(),
                                                 options.disk_size);
    }
    if (!S_ISREG(st.st_mode)) {
      throw Error(ErrorKind::kInvalidArgument,
                  "cannot restore to " + target +
                      ": it is not a file or a block device");
    }
    if (!options.force) {
      throw Error(ErrorKind::kAlreadyExists,
                  "cannot restore to " + target +
                      ": the file exists (pass --force to replace it)");
    }
  }
  if (path.extension() == ".qcow2") {
    return std::make_unique<Qcow2FileTarget>(
        path, target, options.disk_size, options.sums_path, options.repository,
        options.luks_passphrase);
  }
  return std::make_unique<RawFileTarget>(path, target, options.disk_size,
                                         options.repository);
}

}  // namespace sendense::restore
