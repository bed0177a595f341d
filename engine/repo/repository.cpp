#include "engine/repo/repository.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>

#include "engine/error.h"
#include "engine/io/file.h"
#include "engine/repo/names.h"

namespace sendense {
namespace fs = std::filesystem;
namespace {

constexpr const char* kCatalogName = "catalog.db";

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
  fs::create_directory(fs::path(path) / "locks");
  fs::create_directory(fs::path(path) / "vms");
  {
    File token = File::CreateExclusive(path + "/api-token", 0600);
    const std::string t = RandomToken() + "\n";
    token.WriteAll(std::as_bytes(std::span(t)), 0);
    token.Sync();
  }
  // The catalog comes last: its presence marks a complete repository.
  Catalog(path + "/" + kCatalogName, true);
  SyncDirectory(path);
}

Repository::Repository(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(fs::path(path) / kCatalogName, ec)) {
    throw Error(ErrorKind::kNotFound,
                path + " is not a Sendense repository (run 'sendense -r " +
                    path + " init' first)");
  }
  path_ = fs::canonical(path).string();
}

std::unique_ptr<Catalog> Repository::OpenCatalog() const {
  return std::make_unique<Catalog>(path_ + "/" + kCatalogName, false);
}

std::string Repository::MakeDiskDir(const std::string& vm,
                                    const std::string& disk) const {
  ValidateName("VM name", vm);
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

Repository::VmLock::VmLock(const Repository& repo, const std::string& vm) {
  ValidateName("VM name", vm);
  const std::string lock_path = repo.Absolute("locks/" + vm + ".lock");
  fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    ThrowSystemError("cannot open " + lock_path);
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    fd_ = -1;
    throw Error(ErrorKind::kAlreadyExists,
                "another backup of VM '" + vm + "' is running");
  }
}

Repository::VmLock::~VmLock() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

Repository::Reclaimed Repository::Reclaim(Catalog& catalog,
                                          const std::string& vm) const {
  Reclaimed r;
  const auto vm_id = catalog.FindVm(vm);
  if (!vm_id) {
    return r;
  }
  r.interrupted_backups = catalog.FailInterrupted(
      *vm_id, "interrupted: the backup process ended before completing",
      IsoTime(std::chrono::system_clock::now()));
  const auto files = catalog.PointFiles(*vm_id);
  const std::set<std::string> known(files.begin(), files.end());
  const fs::path vm_dir = fs::path(path_) / "vms" / vm;
  std::error_code ec;
  if (!fs::is_directory(vm_dir, ec)) {
    return r;
  }
  for (const auto& entry : fs::recursive_directory_iterator(vm_dir, ec)) {
    if (!entry.is_regular_file()) {
      continue;
    }
    const std::string rel = fs::relative(entry.path(), path_).string();
    if (known.count(rel)) {
      continue;
    }
    r.removed_bytes += entry.file_size();
    r.removed_files.push_back(rel);
  }
  for (const auto& rel : r.removed_files) {
    fs::remove(Absolute(rel), ec);
  }
  return r;
}

}  // namespace sendense
