// sendense-extents: runs inside the libguestfs appliance (uploaded there,
// statically linked, started by guestfs_command in the chroot where the
// guest filesystems are mounted read-only) and reports where file data
// lives, so that the daemon can read guest files straight from the
// backup chain. It parses nothing of the guest itself: the appliance's
// kernel does (FIEMAP, FIBMAP through ntfs-3g, device-mapper tables), and
// the daemon checks every number it prints before using it.
//
//   sendense-extents REQUESTS OUTPUT
//
// REQUESTS holds NUL-terminated pairs: "D" and a block device path (as
// libguestfs names it), or "F" and a file path (on the device of the last
// "D"). OUTPUT gets one answer per request, in order:
//
//   D <i> <n>              then n lines: S <dev-off> <len> <disk> <disk-off>
//   F <i> <size> <n> <how> then n lines: E <logical> <physical> <len> <flags>
//   D|F <i> ! <reason>     when it cannot tell
//
// All numbers are bytes (flags: FIEMAP_EXTENT_* bits); <disk> is the
// drive as libguestfs names it ("sda": the first added); <how> is
// "fiemap" or "fibmap". Exit status 0 when OUTPUT was written.

#include <dirent.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

// A file with more extents than this is left to the appliance.
constexpr size_t kMaxExtents = 65536;
constexpr unsigned kBatch = 512;

struct Segment {
  uint64_t offset, length;  // in the device
  std::string disk;         // whole disk, "sda"
  uint64_t disk_offset;
};

bool ReadNumber(const std::string& path, uint64_t* out) {
  FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr) {
    return false;
  }
  const bool ok = std::fscanf(f, "%" SCNu64, out) == 1;
  std::fclose(f);
  return ok;
}

std::string SysDir(unsigned maj, unsigned min) {
  return "/sys/dev/block/" + std::to_string(maj) + ":" + std::to_string(min);
}

std::string BaseName(const std::string& p) {
  const size_t s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

std::string Canonical(const std::string& p) {
  char buf[PATH_MAX];
  return ::realpath(p.c_str(), buf) != nullptr ? buf : "";
}

// The device maj:min as linear segments of whole disks; "" or a reason.
std::string Resolve(unsigned maj,
                    unsigned min,
                    int depth,
                    std::vector<Segment>* out);

std::string ResolveDm(unsigned maj,
                      unsigned min,
                      int depth,
                      std::vector<Segment>* out) {
  const int control = ::open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
  if (control < 0) {
    return "cannot open /dev/mapper/control";
  }
  std::vector<char> buf(1 << 16);
  auto* io = reinterpret_cast<dm_ioctl*>(buf.data());
  io->version[0] = DM_VERSION_MAJOR;
  io->version[1] = 0;
  io->version[2] = 0;
  io->data_size = static_cast<uint32_t>(buf.size());
  io->data_start = sizeof(dm_ioctl);
  io->dev = makedev(maj, min);
  io->flags = DM_STATUS_TABLE_FLAG;
  const int rc = ::ioctl(control, DM_TABLE_STATUS, io);
  ::close(control);
  if (rc != 0 || (io->flags & DM_BUFFER_FULL_FLAG) != 0) {
    return "cannot read the device-mapper table";
  }
  uint32_t at = io->data_start;
  for (uint32_t t = 0; t < io->target_count; ++t) {
    if (at + sizeof(dm_target_spec) > io->data_size) {
      return "a malformed device-mapper table";
    }
    const auto* spec = reinterpret_cast<const dm_target_spec*>(&buf[at]);
    const char* params = &buf[at + sizeof(dm_target_spec)];
    const std::string type(spec->target_type,
                           strnlen(spec->target_type, DM_MAX_TYPE_NAME));
    if (type != "linear") {
      return "device-mapper target '" + type + "' is not linear";
    }
    unsigned lmaj = 0, lmin = 0;
    uint64_t sector = 0;
    if (std::sscanf(params, "%u:%u %" SCNu64, &lmaj, &lmin, &sector) != 3) {
      return "an unexpected linear target";
    }
    std::vector<Segment> below;
    const std::string why = Resolve(lmaj, lmin, depth + 1, &below);
    if (!why.empty()) {
      return why;
    }
    // [sector, sector + length) of the lower device, at sector_start here.
    const uint64_t from = sector * 512, len = spec->length * 512;
    const uint64_t here = spec->sector_start * 512;
    for (const auto& s : below) {
      const uint64_t lo = std::max(from, s.offset);
      const uint64_t hi = std::min(from + len, s.offset + s.length);
      if (lo < hi) {
        out->push_back({here + (lo - from), hi - lo, s.disk,
                        s.disk_offset + (lo - s.offset)});
      }
    }
    if (spec->next == 0) {
      break;
    }
    at += spec->next;
  }
  return "";
}

std::string Resolve(unsigned maj,
                    unsigned min,
                    int depth,
                    std::vector<Segment>* out) {
  if (depth > 8) {
    return "devices stacked too deep";
  }
  const std::string dir = SysDir(maj, min);
  uint64_t sectors = 0;
  if (!ReadNumber(dir + "/size", &sectors)) {
    return "no such block device";
  }
  if (::access((dir + "/dm").c_str(), F_OK) == 0) {
    return ResolveDm(maj, min, depth, out);
  }
  if (::access((dir + "/partition").c_str(), F_OK) == 0) {
    uint64_t start = 0;
    if (!ReadNumber(dir + "/start", &start)) {
      return "a partition without a start";
    }
    const std::string real = Canonical(dir);
    const std::string parent = BaseName(real.substr(0, real.rfind('/')));
    out->push_back({0, sectors * 512, parent, start * 512});
    return "";
  }
  out->push_back({0, sectors * 512, BaseName(Canonical(dir)), 0});
  return "";
}

// maj:min of a device the appliance's /dev may not show in the chroot:
// "/dev/sda1" from /sys/class/block/sda1/dev, "/dev/vg0/root" from the
// device-mapper name "vg0-root" ('-' in a name doubled).
bool DeviceNumbers(const std::string& path, unsigned* maj, unsigned* min) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISBLK(st.st_mode)) {
    *maj = major(st.st_rdev);
    *min = minor(st.st_rdev);
    return true;
  }
  if (path.rfind("/dev/", 0) != 0) {
    return false;
  }
  const std::string rest = path.substr(5);
  std::string name = rest;
  const size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    std::string dm;
    for (size_t i = 0; i < rest.size(); ++i) {
      dm += rest[i] == '/'   ? "-"
            : rest[i] == '-' ? "--"
                             : std::string(1, rest[i]);
    }
    name.clear();
    for (int n = 0; n < 256 && name.empty(); ++n) {
      FILE* f = std::fopen(
          ("/sys/block/dm-" + std::to_string(n) + "/dm/name").c_str(), "re");
      if (f == nullptr) {
        continue;
      }
      char buf[256] = {};
      if (std::fgets(buf, sizeof buf, f) != nullptr &&
          std::string(buf, strcspn(buf, "\n")) == dm) {
        name = "dm-" + std::to_string(n);
      }
      std::fclose(f);
    }
  }
  FILE* f = std::fopen(("/sys/class/block/" + name + "/dev").c_str(), "re");
  if (f == nullptr) {
    return false;
  }
  const bool ok = std::fscanf(f, "%u:%u", maj, min) == 2;
  std::fclose(f);
  return ok;
}

// libguestfs names the drives in the order they were added (/dev/sda is
// the first); the appliance's kernel enumerates them in any order (seen:
// the guest's disk as sdb, the appliance's own as sda). As the libguestfs
// daemon does (daemon/device-name-translation.c), drive i is the i-th
// whole disk of /dev/disk/by-path sorted as `ls -v` sorts, the
// appliance's root disk left out.
class DriveNames {
 public:
  DriveNames() {
    struct stat root {};
    if (::stat("/proc/1/root", &root) != 0) {  // init's root: the appliance's
      error_ = std::string("cannot tell the appliance's root disk (") +
               std::strerror(errno) + ")";
      return;
    }
    const std::string dir = "/dev/disk/by-path";
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
      error_ = "cannot tell the order of the drives (no " + dir + ")";
      return;
    }
    std::vector<std::string> links;
    while (const dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.' && std::strstr(e->d_name, "-part") == nullptr) {
        links.emplace_back(e->d_name);
      }
    }
    ::closedir(d);
    std::sort(links.begin(), links.end(), [](const auto& a, const auto& b) {
      return ::strverscmp(a.c_str(), b.c_str()) < 0;
    });
    for (const auto& link : links) {
      const std::string real = Canonical(dir + "/" + link);
      struct stat st {};
      if (real.empty() || ::stat(real.c_str(), &st) != 0 ||
          st.st_rdev == root.st_dev) {
        continue;
      }
      kernel_.push_back(BaseName(real));
    }
  }

  // "/dev/sda1" -> "/dev/sdb1" (the kernel's name); other paths (LVM, md)
  // as they are; "" when the drive is not known.
  std::string ToKernel(const std::string& path) const {
    if (path.rfind("/dev/sd", 0) != 0 ||
        path.find('/', 5) != std::string::npos) {
      return path;
    }
    const size_t letters =
        path.find_first_not_of("abcdefghijklmnopqrstuvwxyz", 7);
    const size_t end = letters == std::string::npos ? path.size() : letters;
    if (end != 8) {
      return "";  // more than 26 drives: not asked for
    }
    const size_t index = static_cast<size_t>(path[7] - 'a');
    return index < kernel_.size() ? "/dev/" + kernel_[index] + path.substr(8)
                                  : "";
  }

  // "sdb" -> "sda" (libguestfs's name); "" for a disk that is no drive.
  std::string FromKernel(const std::string& disk) const {
    for (size_t i = 0; i < kernel_.size() && i < 26; ++i) {
      if (kernel_[i] == disk) {
        return std::string("sd") + static_cast<char>('a' + i);
      }
    }
    return "";
  }

  const std::string& error() const { return error_; }

 private:
  std::vector<std::string> kernel_;  // by drive index: "sdb"
  std::string error_;
};

// The block devices this chroot's sysfs shows, for an error message.
std::string DevicesSeen() {
  DIR* dir = ::opendir("/sys/class/block");
  if (dir == nullptr) {
    return std::string("no /sys/class/block: ") + std::strerror(errno);
  }
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') {
      names.emplace_back(e->d_name);
    }
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  std::string seen = "devices seen:";
  for (const auto& n : names) {
    seen += " " + n;
  }
  return seen;
}

// Answers a "D" request; returns the kernel's path of the device ("" when
// it cannot be placed).
std::string AnswerDevice(FILE* out,
                         size_t i,
                         const std::string& path,
                         const DriveNames& drives) {
  std::vector<Segment> segments;
  std::string why = drives.error();
  std::string kernel;
  if (why.empty() && (kernel = drives.ToKernel(path)).empty()) {
    why = "no drive " + path + " in the appliance";
  }
  unsigned maj = 0, min = 0;
  if (why.empty() && !DeviceNumbers(kernel, &maj, &min)) {
    why = "no block device " + kernel + " (" + std::strerror(errno) + "; " +
          DevicesSeen() + ")";
  }
  if (why.empty()) {
    why = Resolve(maj, min, 0, &segments);
  }
  for (auto& s : segments) {
    if (!why.empty()) {
      break;
    }
    const std::string disk = drives.FromKernel(s.disk);
    if (disk.empty()) {
      why = "it lies on " + s.disk + ", which is not a drive of the backup";
    }
    s.disk = disk;
  }
  if (!why.empty()) {
    std::fprintf(out, "D %zu ! %s\n", i, why.c_str());
    return "";
  }
  std::fprintf(out, "D %zu %zu\n", i, segments.size());
  for (const auto& s : segments) {
    std::fprintf(out, "S %" PRIu64 " %" PRIu64 " %s %" PRIu64 "\n", s.offset,
                 s.length, s.disk.c_str(), s.disk_offset);
  }
  return kernel;
}

struct Extent {
  uint64_t logical, physical, length;
  uint32_t flags;
};

// FIEMAP: ext2/3/4, XFS, VFAT. Returns errno (EOPNOTSUPP: try FIBMAP).
int Fiemap(int fd, std::vector<Extent>* out) {
  std::vector<char> buf(sizeof(fiemap) + kBatch * sizeof(fiemap_extent));
  auto* fm = reinterpret_cast<fiemap*>(buf.data());
  uint64_t start = 0;
  for (;;) {
    std::memset(buf.data(), 0, buf.size());
    fm->fm_start = start;
    fm->fm_length = FIEMAP_MAX_OFFSET - start;
    fm->fm_extent_count = kBatch;
    if (::ioctl(fd, FS_IOC_FIEMAP, fm) != 0) {
      return errno;
    }
    if (fm->fm_mapped_extents == 0) {
      return 0;
    }
    for (unsigned k = 0; k < fm->fm_mapped_extents; ++k) {
      const fiemap_extent& e = fm->fm_extents[k];
      out->push_back({e.fe_logical, e.fe_physical, e.fe_length, e.fe_flags});
      if ((e.fe_flags & FIEMAP_EXTENT_LAST) != 0) {
        return 0;
      }
      start = e.fe_logical + e.fe_length;
    }
    if (out->size() > kMaxExtents) {
      return E2BIG;
    }
  }
}

// FIBMAP, one block at a time: what ntfs-3g answers (it refuses
// resident, compressed and encrypted data).
int Fibmap(int fd, uint64_t size, std::vector<Extent>* out) {
  int block_size = 0;
  if (::ioctl(fd, FIGETBSZ, &block_size) != 0 || block_size <= 0) {
    return errno != 0 ? errno : EINVAL;
  }
  const uint64_t bs = static_cast<uint64_t>(block_size);
  const uint64_t blocks = (size + bs - 1) / bs;
  for (uint64_t b = 0; b < blocks; ++b) {
    if (b > UINT32_MAX) {
      return E2BIG;
    }
    int value = static_cast<int>(b);
    if (::ioctl(fd, FIBMAP, &value) != 0) {
      return errno;
    }
    if (value == 0) {
      continue;  // a hole
    }
    const uint64_t physical = static_cast<uint64_t>(value) * bs;
    if (!out->empty() && out->back().logical + out->back().length == b * bs &&
        out->back().physical + out->back().length == physical) {
      out->back().length += bs;
      continue;
    }
    if (out->size() == kMaxExtents) {
      return E2BIG;
    }
    out->push_back({b * bs, physical, bs, 0});
  }
  return 0;
}

// Whether the file's bytes at `e`'s last block inside `size` are the
// device's bytes where the map puts them. FIBMAP says nothing of data past
// NTFS's valid length (it reads as zeros, the blocks hold anything).
bool SameBytes(int fd, int device, const Extent& e, uint64_t size) {
  const uint64_t end = std::min(e.logical + e.length, size);
  if (end <= e.logical) {
    return true;
  }
  const uint64_t n = std::min<uint64_t>(end - e.logical, 4096);
  const uint64_t at = end - n;
  std::vector<char> a(n), b(n);
  return ::pread(fd, a.data(), n, static_cast<off_t>(at)) ==
             static_cast<ssize_t>(n) &&
         ::pread(device, b.data(), n,
                 static_cast<off_t>(e.physical + (at - e.logical))) ==
             static_cast<ssize_t>(n) &&
         a == b;
}

void AnswerFile(FILE* out, size_t i, const char* path, const char* device) {
  const int fd = ::open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (fd >= 0) {
      ::close(fd);
    }
    std::fprintf(out, "F %zu ! not a regular file\n", i);
    return;
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  std::vector<Extent> extents;
  const char* how = "fiemap";
  int err = Fiemap(fd, &extents);
  if (err == EOPNOTSUPP || err == ENOTTY) {
    extents.clear();
    how = "fibmap";
    err = Fibmap(fd, size, &extents);
    const int dev = ::open(device, O_RDONLY | O_CLOEXEC);
    for (const auto& e : extents) {
      if (err == 0 && (dev < 0 || !SameBytes(fd, dev, e, size))) {
        err = EILSEQ;
      }
    }
    if (dev >= 0) {
      ::close(dev);
    }
  }
  ::close(fd);
  if (err != 0) {
    std::fprintf(out, "F %zu ! %s\n", i,
                 err == E2BIG    ? "too many extents"
                 : err == EILSEQ ? "the block map does not match the data"
                                 : std::strerror(err));
    return;
  }
  std::fprintf(out, "F %zu %" PRIu64 " %zu %s\n", i, size, extents.size(), how);
  for (const auto& e : extents) {
    std::fprintf(out, "E %" PRIu64 " %" PRIu64 " %" PRIu64 " %u\n", e.logical,
                 e.physical, e.length, e.flags);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: sendense-extents REQUESTS OUTPUT\n");
    return 2;
  }
  const DriveNames drives;
  FILE* in = std::fopen(argv[1], "re");
  FILE* out = std::fopen(argv[2], "we");
  if (in == nullptr || out == nullptr) {
    std::fprintf(stderr, "sendense-extents: %s\n", std::strerror(errno));
    return 1;
  }
  std::string kind, path, device;
  std::string* field = &kind;
  size_t index = 0;
  for (int c; (c = std::fgetc(in)) != EOF;) {
    if (c != '\0') {
      field->push_back(static_cast<char>(c));
      continue;
    }
    if (field == &kind) {
      field = &path;
      continue;
    }
    if (kind == "D") {
      // The device of the files that follow.
      device = AnswerDevice(out, index, path, drives);
    } else {
      AnswerFile(out, index, path.c_str(), device.c_str());
    }
    ++index;
    kind.clear();
    path.clear();
    field = &kind;
  }
  std::fclose(in);
  return std::fclose(out) == 0 ? 0 : 1;
}
