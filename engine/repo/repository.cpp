#include "engine/repo/repository.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <unistd.h>

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "engine/catalog/names.h"
#include "engine/error.h"
#include "engine/io/capacity.h"
#include "engine/io/file.h"
#include "engine/log.h"
#include "engine/qcow2/cluster_sums.h"
#include "engine/repo/point_drop.h"
#include "engine/time.h"

namespace sendense {
namespace fs = std::filesystem;
namespace {

constexpr const char* kCatalogName = "catalog.db";
constexpr const char* kIdName = "repository-id";

std::string RandomToken() {
  unsigned char bytes[32];
  if (::getrandom(bytes, sizeof bytes, 0) != sizeof bytes) {
    ThrowSystemError("getrandom failed");
  }
  static const char* hex = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) {
    token += hex[b >> 4];
    token += hex[b & 15];
  }
  return token;
}

}  // namespace

void Repository::Init(const std::string& path) {
  std::error_code ec;
  if (fs::exists(path / fs::path(kCatalogName), ec)) {
    throw Error(ErrorKind::kAlreadyExists,
                path + " is already a Sendense repository");
  }
  if (fs::exists(path, ec)) {
    if (!fs::is_directory(path, ec)) {
      throw Error(ErrorKind::kInvalidArgument,
                  path + " exists and is not a directory");
    }
    if (!fs::is_empty(path, ec)) {
      throw Error(ErrorKind::kInvalidArgument,
                  path + " is not empty and is not a Sendense repository");
    }
  } else if (!fs::create_directories(path, ec) || ec) {
    throw Error(ErrorKind::kIo, "cannot create " + path + ": " + ec.message());
  }
  // VM disks and the API token live here: only the owner may enter.
  fs::permissions(path, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) {
    throw Error(ErrorKind::kIo,
                "cannot make " + path + " private: " + ec.message());
  }
  for (const char* dir : {"locks", "vms"}) {
    fs::create_directory(fs::path(path) / dir, ec);
    ThrowIfFailed(ec, "cannot create " + path + "/" + dir);
  }
  for (const char* name : {"api-token", kIdName}) {
    File file = File::CreateExclusive(path + "/" + name, 0600);
    const std::string t = RandomToken() + "\n";
    file.WriteAll(std::as_bytes(std::span(t)), 0);
    file.Sync();
  }
  // The catalog comes last: its presence marks a complete repository.
  Catalog(path + "/" + kCatalogName, true);
  SyncDirectory(path);
}

Repository::Repository(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(fs::path(path) / kCatalogName, ec) &&
      fs::is_directory(path, ec) && fs::is_empty(path, ec)) {
    // What an unmounted share looks like: writing here would fill the
    // local disk under the mount point.
    throw Error(ErrorKind::kNotFound,
                path +
                    " is an empty directory, not a Sendense repository: "
                    "if a share should be mounted there, nothing is "
                    "(mount it); else init makes one",
                Remedy::kInitRepository, path);
  }
  if (!fs::exists(fs::path(path) / kCatalogName, ec)) {
    throw Error(ErrorKind::kNotFound, path + " is not a Sendense repository",
                Remedy::kInitRepository, path);
  }
  path_ = fs::canonical(path, ec).string();
  ThrowIfFailed(ec, "cannot resolve " + path);
}

std::string Repository::Id() const {
  const std::string file = path_ + "/" + kIdName;
  std::error_code ec;
  if (!fs::exists(file, ec)) {  // a repository made before ids
    try {
      File f = File::CreateExclusive(file, 0600);
      const std::string t = RandomToken() + "\n";
      f.WriteAll(std::as_bytes(std::span(t)), 0);
      f.Sync();
    } catch (const Error&) {
      // Made by another process at the same moment: read below.
    }
  }
  std::string id;
  std::ifstream(file) >> id;
  if (id.empty()) {
    throw Error(ErrorKind::kIo, "cannot read the id of the repository " +
                                    path_ + " (" + file + ")");
  }
  return id;
}

namespace {

uint64_t AllocatedUnder(const std::string& dir) {
  uint64_t used = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) == 0) {
      used += static_cast<uint64_t>(st.st_blocks) * 512;
    }
  }
  return used;
}

}  // namespace

uint64_t Repository::UsedBytes() const {
  return AllocatedUnder(path_);
}

uint64_t Repository::UsedBytes(const std::string& vm) const {
  return AllocatedUnder(Absolute("vms/" + vm));
}

std::string Repository::CatalogPath() const {
  return Absolute(kCatalogName);
}

std::unique_ptr<Catalog> Repository::OpenCatalog() const {
  auto catalog = std::make_unique<Catalog>(CatalogPath(), false);
  catalog->SetOwnerProbe(
      [this](const std::string& vm) { return VmLockHeld(vm); });
  return catalog;
}

std::unique_ptr<Catalog> Repository::OpenCatalogForWriting(
    Reclaimed* reclaimed,
    const std::string& held_vm) const {
  auto catalog = OpenCatalog();
  if (catalog->snapshot() || FilesystemFull(path_)) {
    ThrowFilesystemFull(path_);
  }
  std::set<std::string> vms;
  for (const auto& b : catalog->Backups("")) {
    if (b.state == BackupState::kInterrupted ||
        b.state == BackupState::kDropping) {
      vms.insert(b.vm);
    }
  }
  std::error_code ec;
  for (const auto& vm_dir : fs::directory_iterator(Absolute("vms"), ec)) {
    for (const auto& disk_dir : fs::directory_iterator(vm_dir.path(), ec)) {
      for (const auto& f : fs::directory_iterator(disk_dir.path(), ec)) {
        if (f.path().extension() == ".tmp") {
          vms.insert(vm_dir.path().filename().string());
        }
      }
    }
  }
  for (const auto& vm : vms) {
    if (vm == held_vm) {
      continue;  // the caller reclaims it under its lock
    }
    if (VmLockHeld(vm)) {
      continue;  // a backup of it runs
    }
    try {
      VmLock lock(*this, vm);
      Reclaimed r = Reclaim(*catalog, vm);
      if (reclaimed != nullptr) {
        reclaimed->Add(r);
      }
      FinishDropsQuietly(*catalog, vm);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kBusy &&
          e.kind() != ErrorKind::kInvalidArgument) {
        throw;
      }
    }
  }
  if (!held_vm.empty()) {
    Reclaimed r = Reclaim(*catalog, held_vm);
    if (reclaimed != nullptr) {
      reclaimed->Add(r);
    }
  }
  return catalog;
}

void Repository::FinishDropsQuietly(Catalog& catalog,
                                    const std::string& vm) const {
  // Readers are not waited for here: a command that only happens to open
  // the repository must not hang on them (prune waits and says so).
  try {
    FinishDrops(*this, catalog, vm, DropOptions{std::chrono::milliseconds(0)});
  } catch (const Error& e) {
    Log(LogLevel::kWarning, e.what());
  }
}

bool Repository::VmLockHeld(const std::string& vm) const {
  struct stat st {};
  if (::stat(Absolute("locks/" + vm + ".lock").c_str(), &st) != 0) {
    return false;
  }
  char want[64];
  std::snprintf(want, sizeof want, "%02x:%02x:%lu", major(st.st_dev),
                minor(st.st_dev), static_cast<unsigned long>(st.st_ino));
  std::ifstream locks("/proc/locks");
  std::string line;
  while (std::getline(locks, line)) {
    // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; waiters ("->")
    // hold nothing.
    std::istringstream fields(line);
    std::string id, type, advisory, mode, pid, dev;
    fields >> id >> type >> advisory >> mode >> pid >> dev;
    if (type == "FLOCK" && dev == want) {
      return true;
    }
  }
  return false;
}

std::string Repository::MakeDiskDir(const std::string& vm,
                                    const std::string& disk) const {
  ValidateQualifiedName("VM name", vm);
  ValidateName("disk name", disk);
  const std::string rel = "vms/" + vm + "/" + disk;
  std::error_code ec;
  fs::create_directories(Absolute(rel), ec);
  if (ec) {
    throw Error(ErrorKind::kIo,
                "cannot create " + Absolute(rel) + ": " + ec.message());
  }
  return rel;
}

Repository::PointFile Repository::PointFileOf(const std::string& vm,
                                              const std::string& disk,
                                              const std::string& backup) {
  const std::string dir = "vms/" + vm + "/" + disk + "/";
  return {dir + backup + ".qcow2", dir + "." + backup + ".qcow2.tmp"};
}

std::string Repository::VmOfPointFile(const std::string& file) {
  if (file.rfind("vms/", 0) != 0) {
    return "";
  }
  const size_t slash = file.find('/', 4);
  return slash == std::string::npos ? "" : file.substr(4, slash - 4);
}

Repository::PointFile Repository::MakePointFile(
    const std::string& vm,
    const std::string& disk,
    const std::string& backup) const {
  MakeDiskDir(vm, disk);
  return PointFileOf(vm, disk, backup);
}

void Repository::RemovePointFile(const std::string& relative) const {
  std::error_code ec;
  fs::remove(Absolute(relative), ec);
  fs::remove(qcow2::SumsPath(Absolute(relative)), ec);
}

Repository::VmLock::VmLock(const Repository& repo,
                           const std::string& vm,
                           const std::string& work) {
  ValidateQualifiedName("VM name", vm);
  const std::string lock_path = repo.Absolute("locks/" + vm + ".lock");
  fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    ThrowSystemError("cannot open " + lock_path);
  }
  int tries = 0;
  while (::flock(fd_, LOCK_EX | LOCK_NB) != 0 && ++tries < 10) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (tries == 10) {
    // What the holder wrote (a moment's reclaim writes nothing).
    char buf[512];
    const ssize_t n = ::pread(fd_, buf, sizeof buf, 0);
    ::close(fd_);
    fd_ = -1;
    const std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n))
                                     : "a backup or prune of it";
    throw Error(ErrorKind::kBusy, "VM '" + vm + "' is busy: " + holder +
                                      " is running; try again when it ends");
  }
  const std::string holder = work + " (pid " + std::to_string(::getpid()) + ")";
  if (::ftruncate(fd_, 0) != 0 ||
      ::pwrite(fd_, holder.data(), holder.size(), 0) < 0) {
    // Only a busy message is poorer for it.
  }
}

Repository::VmLock::~VmLock() {
  if (fd_ >= 0) {
    [[maybe_unused]] const int ignored = ::ftruncate(fd_, 0);
    ::close(fd_);
  }
}

Repository::ServeLock::ServeLock(const Repository& repo) {
  const std::string lock_path = repo.Absolute("locks/.serve.lock");
  fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    ThrowSystemError("cannot open " + lock_path);
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {};
    const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
    ::close(fd_);
    fd_ = -1;
    const std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n))
                                  : std::string("unknown");
    throw Error(ErrorKind::kBusy,
                "sendense serve already runs on " + repo.path() + " (pid " +
                    pid.substr(0, pid.find_first_of("\n")) +
                    "): one serve per repository; stop that one first");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 ||
      ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
    // A full filesystem: the lock holds all the same; a second serve is
    // still refused, only without the pid.
  }
}

Repository::ServeLock::~ServeLock() {
  if (fd_ >= 0) {
    [[maybe_unused]] const int ignored = ::ftruncate(fd_, 0);
    ::close(fd_);
  }
}

void Repository::Reclaimed::Add(const Reclaimed& other) {
  interrupted_backups.insert(interrupted_backups.end(),
                             other.interrupted_backups.begin(),
                             other.interrupted_backups.end());
  removed_files.insert(removed_files.end(), other.removed_files.begin(),
                       other.removed_files.end());
  removed_bytes += other.removed_bytes;
}

Repository::Reclaimed Repository::Reclaim(Catalog& catalog,
                                          const std::string& vm) const {
  Reclaimed r;
  const auto vm_id = catalog.FindVm(vm);
  if (!vm_id) {
    return r;
  }
  for (const auto& name : catalog.MarkInterrupted(
           *vm_id, IsoTime(std::chrono::system_clock::now()))) {
    r.interrupted_backups.push_back(vm + "/" + name);
  }
  const auto files = catalog.PointFiles(*vm_id);
  std::set<std::string> known(files.begin(), files.end());
  for (const auto& f : files) {
    known.insert(f + ".sums");  // its cluster digests (qcow2::SumsPath)
  }
  const fs::path vm_dir = fs::path(path_) / "vms" / vm;
  std::error_code ec;
  if (!fs::is_directory(vm_dir, ec)) {
    return r;
  }
  for (const auto& entry : fs::recursive_directory_iterator(vm_dir, ec)) {
    if (!entry.is_regular_file()) {
      continue;
    }
    const std::string rel = fs::relative(entry.path(), path_, ec).string();
    if (ec || known.count(rel)) {
      continue;
    }
    r.removed_bytes += entry.file_size(ec);
    r.removed_files.push_back(rel);
  }
  for (const auto& rel : r.removed_files) {
    fs::remove(Absolute(rel), ec);
  }
  return r;
}

std::string Repository::Command(const std::string& args) const {
  const bool plain = path_.find_first_not_of(
                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
                         "VWXYZ0123456789/._-+,=@") == std::string::npos;
  std::string quoted = path_;
  if (!plain) {
    quoted = "'";
    for (char c : path_) {
      quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    quoted += "'";
  }
  return "sendense -r " + quoted + " " + args;
}

}  // namespace sendense
