#include "engine/repo/immutability.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "engine/error.h"
#include "engine/qcow2/cluster_sums.h"
#include "engine/time.h"

namespace sendense {
namespace {

// Opens `path` for the flag ioctls (read-only is enough for them).
int OpenForFlags(const std::string& path) {
  return ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
}

std::string Now() {
  return IsoTime(std::chrono::system_clock::now());
}

bool Immutable(const PointRecord& p, const std::string& now) {
  return !p.immutable_until.empty() && p.immutable_until > now;
}

void ClearIfSet(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    SetImmutableFlag(path, false);
  }
}

}  // namespace

void SetImmutableFlag(const std::string& path, bool on) {
  const int fd = OpenForFlags(path);
  if (fd < 0) {
    throw Error(ErrorKind::kIo,
                "cannot open " + path + ": " + std::strerror(errno), errno);
  }
  int flags = 0;
  int rc = ::ioctl(fd, FS_IOC_GETFLAGS, &flags);
  if (rc == 0 && ((flags & FS_IMMUTABLE_FL) != 0) != on) {
    flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
    rc = ::ioctl(fd, FS_IOC_SETFLAGS, &flags);
  }
  const int err = errno;
  ::close(fd);
  if (rc != 0) {
    // FUSE filesystems (ntfs-3g) answer EINVAL.
    const bool unsupported =
        err == ENOTTY || err == EOPNOTSUPP || err == EINVAL;
    throw Error(unsupported ? ErrorKind::kUnsupported : ErrorKind::kIo,
                std::string("cannot ") + (on ? "set" : "clear") +
                    " the immutable flag of " + path + ": " +
                    (unsupported ? "the filesystem has no such flag"
                                 : std::strerror(err)),
                err);
  }
}

std::string ImmutableSupport(const std::string& dir) {
  const std::string probe = dir + "/.immutable-probe";
  const int fd = ::open(probe.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    return "cannot create a file in " + dir + ": " + std::strerror(errno);
  }
  ::close(fd);
  std::string why;
  try {
    SetImmutableFlag(probe, true);
    SetImmutableFlag(probe, false);
  } catch (const Error& e) {
    why = e.kind() == ErrorKind::kUnsupported
              ? "the filesystem of " + dir +
                    " cannot make files immutable (ext4, XFS and btrfs can)"
              : std::string(e.what()) +
                    " (making files immutable needs root: "
                    "CAP_LINUX_IMMUTABLE)";
  }
  ::unlink(probe.c_str());
  return why;
}

std::optional<double> ImmutableDays(Catalog& catalog, const VmConfig* vm) {
  if (vm != nullptr && vm->immutable_days) {
    return *vm->immutable_days > 0 ? vm->immutable_days : std::nullopt;
  }
  const auto setting = catalog.Setting("immutable_days");
  if (!setting) {
    return std::nullopt;
  }
  const double days = std::stod(*setting);
  return days > 0 ? std::optional(days) : std::nullopt;
}

void MakeImmutable(const Repository& repo,
                   Catalog& catalog,
                   const BackupRecord& backup,
                   double days) {
  const std::string until_text =
      IsoTime(std::chrono::system_clock::now() +
              std::chrono::seconds(static_cast<int64_t>(days * 86400.0)));
  for (const auto& p : backup.points) {
    const std::string path = repo.Absolute(p.file);
    SetImmutableFlag(qcow2::SumsPath(path), true);
    SetImmutableFlag(path, true);
    catalog.SetImmutableUntil(p.id, until_text);
  }
}

void RefuseIfImmutable(const Repository& repo,
                       Catalog& catalog,
                       const BackupRecord& backup) {
  const std::string now = Now();
  for (const auto& p : backup.points) {
    if (Immutable(p, now)) {
      throw Error(ErrorKind::kBusy, "point " + backup.vm + "/" + backup.name +
                                        " is immutable until " +
                                        p.immutable_until);
    }
    const auto child = catalog.ChildOf(p.id);
    if (child && Immutable(*child, now)) {
      throw Error(ErrorKind::kBusy,
                  "point " + backup.vm + "/" + backup.name +
                      " cannot be dropped until " + child->immutable_until +
                      ": dropping it rewrites the point after it (" +
                      child->file + "), which is immutable until then");
    }
  }
  // Their time has passed: the drop may change them now.
  for (const auto& p : backup.points) {
    for (const auto& point : {std::optional(p), catalog.ChildOf(p.id)}) {
      if (point && !point->immutable_until.empty()) {
        const std::string path = repo.Absolute(point->file);
        ClearIfSet(qcow2::SumsPath(path));
        ClearIfSet(path);
      }
    }
  }
}

}  // namespace sendense
