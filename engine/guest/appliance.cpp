#include "engine/guest/appliance.h"

#include <guestfs.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "engine/error.h"
#include "engine/guest/kvm_probe.h"
#include "engine/log.h"
#include "engine/qcow2/chain_reader.h"

namespace sendense::guest {
namespace {

struct Strings {  // a NULL-terminated char** from libguestfs, freed
  char** v = nullptr;
  ~Strings() {
    if (v != nullptr) {
      for (char** p = v; *p != nullptr; ++p) {
        std::free(*p);
      }
      std::free(v);
    }
  }
};

bool Skipped(const std::string& device, const std::string& fstype) {
  return device.rfind("btrfsvol:", 0) == 0 || fstype == "swap" ||
         fstype == "unknown" || fstype == "LVM2_member" ||
         fstype == "crypto_LUKS" || fstype.empty();
}

}  // namespace

std::string FilesystemName(const std::string& device,
                           const std::vector<Drive>& drives) {
  const std::string dev =
      device.rfind("/dev/", 0) == 0 ? device.substr(5) : device;
  // sdX[N]: the X-th drive, named as the backup names it.
  if (dev.size() >= 3 && dev.compare(0, 2, "sd") == 0 && dev[2] >= 'a' &&
      dev[2] <= 'z' && (dev.size() == 3 || std::isdigit(dev[3]))) {
    const size_t index = static_cast<size_t>(dev[2] - 'a');
    const std::string part = dev.substr(3);
    if (index < drives.size()) {
      const std::string& disk = drives[index].disk;
      if (part.empty()) {
        return disk;
      }
      return std::isdigit(static_cast<unsigned char>(disk.back()))
                 ? disk + "p" + part
                 : disk + part;
    }
  }
  // vg/lv and mapper names become one folder name.
  std::string name = dev.rfind("mapper/", 0) == 0 ? dev.substr(7) : dev;
  for (char& c : name) {
    if (c == '/') {
      c = '-';
    }
  }
  return name;
}

std::vector<std::string> ReadOnlyMountOptions(const std::string& fstype) {
  if (fstype == "ext3" || fstype == "ext4") {
    return {"ro", "ro,noload"};
  }
  if (fstype == "xfs") {
    return {"ro", "ro,norecovery"};
  }
  if (fstype == "btrfs") {
    return {"ro", "ro,rescue=nologreplay"};
  }
  return {"ro"};
}

Appliance::Appliance(const std::vector<Drive>& drives) : drives_(drives) {
  // Hostile chains are refused before qemu sees them, and so is a key
  // that does not unlock an encrypted one.
  for (const auto& d : drives) {
    qcow2::ChainReader::Options options;
    options.luks_passphrase = d.luks_passphrase;
    const auto chain = qcow2::ChainReader::Open(d.path, options);
    const std::string top = std::filesystem::canonical(d.path);
    std::vector<size_t> encrypted;
    for (size_t i = 0; i < chain->depth(); ++i) {
      if (chain->layer(i).encrypted()) {
        encrypted.push_back(i);
      }
    }
    if (encrypted.empty()) {
      overlays_.push_back(
          std::make_unique<ApplianceOverlay>(top, "qcow2", chain->size()));
      continue;
    }
    decrypted_.push_back(
        std::make_unique<DecryptedChain>(top, encrypted, d.key_file));
    overlays_.push_back(std::make_unique<ApplianceOverlay>(
        decrypted_.back()->uri(), "raw", chain->size()));
  }
  g_.reset(guestfs_create());
  if (!g_) {
    throw Error(ErrorKind::kIo, "cannot create a libguestfs handle");
  }
  guestfs_set_error_handler(g_.get(), nullptr,
                            nullptr);  // errors come as Error
  // qemu in its own process group: a Ctrl-C at the terminal of `serve` or
  // `mount -f` reaches the daemon, which closes appliances in order,
  // instead of killing them under it.
  guestfs_set_pgroup(g_.get(), 1);
  if (std::getenv("LIBGUESTFS_BACKEND") == nullptr) {
    guestfs_set_backend(g_.get(), "direct");
  }
  if (NeedForceTcg()) {
    const char* settings[] = {"force_tcg", nullptr};
    guestfs_set_backend_settings(g_.get(), const_cast<char**>(settings));
  }
  // Each drive is the point's chain under an overlay of its own: qemu
  // opens the chain read-only, the appliance writes only the overlay
  // (writeback: a flush reaches the file, which Rewritten() then reads).
  for (size_t i = 0; i < drives.size(); ++i) {
    if (guestfs_add_drive_opts(g_.get(), overlays_[i]->path().c_str(),
                               GUESTFS_ADD_DRIVE_OPTS_FORMAT, "qcow2",
                               GUESTFS_ADD_DRIVE_OPTS_CACHEMODE, "writeback",
                               -1) != 0) {
      const std::string why = LastError();
      throw Error(ErrorKind::kIo, "cannot add " + drives[i].path + ": " + why);
    }
  }
  if (guestfs_launch(g_.get()) != 0) {
    const std::string why = LastError();
    throw Error(ErrorKind::kIo,
                "the libguestfs appliance did not start: " + why);
  }
  for (auto& overlay : overlays_) {
    overlay->Forget();  // qemu has it open
  }
  for (auto& chain : decrypted_) {
    chain->Forget();  // qemu is connected
  }
}

Appliance::~Appliance() = default;

void Appliance::Close::operator()(guestfs_h* g) const {
  guestfs_shutdown(g);
  guestfs_close(g);
}

std::string Appliance::LastError() {
  const char* e = guestfs_last_error(g_.get());
  return e != nullptr ? e : "unknown libguestfs error";
}

std::vector<FoundFilesystem> Appliance::Filesystems() {
  std::lock_guard lock(mutex_);
  Strings list{guestfs_list_filesystems(g_.get())};
  if (list.v == nullptr) {
    throw Error(ErrorKind::kIo, "listing filesystems: " + LastError());
  }
  std::vector<FoundFilesystem> out;
  for (char** p = list.v; p[0] != nullptr && p[1] != nullptr; p += 2) {
    if (!Skipped(p[0], p[1])) {
      out.push_back({p[0], p[1], FilesystemName(p[0], drives_)});
    }
  }
  return out;
}

std::vector<std::string> Appliance::MountAll(
    const std::vector<FoundFilesystem>& fss) {
  std::lock_guard lock(mutex_);
  std::vector<std::string> errors(fss.size());
  for (size_t i = 0; i < fss.size(); ++i) {
    const std::string mp = "/" + fss[i].name;
    if (guestfs_mkmountpoint(g_.get(), mp.c_str()) != 0) {
      errors[i] = LastError();
    }
  }
  for (size_t i = 0; i < fss.size(); ++i) {
    if (!errors[i].empty()) {
      continue;
    }
    // First as the guest would after a crash (its journal replayed, into
    // the overlay), then as the disk holds it.
    const std::string mp = "/" + fss[i].name;
    const auto options = ReadOnlyMountOptions(fss[i].fstype);
    std::string first_error;
    for (size_t k = 0; k < options.size(); ++k) {
      if (guestfs_mount_vfs(g_.get(), options[k].c_str(), fss[i].fstype.c_str(),
                            fss[i].device.c_str(), mp.c_str()) == 0) {
        if (k > 0) {
          Log(LogLevel::kWarning,
              fss[i].device + " (" + fss[i].fstype +
                  ") is shown without replaying its journal (" + first_error +
                  "): what the guest wrote in its last moments before the "
                  "backup may be missing");
        }
        first_error.clear();
        break;
      }
      if (first_error.empty()) {
        first_error = LastError();
      }
    }
    if (!first_error.empty()) {
      errors[i] = "cannot mount " + fss[i].device + " (" + fss[i].fstype +
                  "): " + first_error;
    }
  }
  return errors;
}

std::vector<std::vector<DiskRange>> Appliance::Rewritten() {
  std::lock_guard lock(mutex_);
  if (guestfs_sync(g_.get()) != 0) {
    throw Error(ErrorKind::kIo, "flushing the appliance: " + LastError());
  }
  std::vector<std::vector<DiskRange>> out;
  for (const auto& overlay : overlays_) {
    out.push_back(overlay->Written());
  }
  return out;
}

std::string Appliance::Pread(const std::string& path,
                             size_t count,
                             uint64_t offset) {
  std::lock_guard lock(mutex_);
  size_t got = 0;
  char* data = guestfs_pread(g_.get(), path.c_str(), static_cast<int>(count),
                             static_cast<int64_t>(offset), &got);
  if (data == nullptr) {
    throw Error(ErrorKind::kIo, "reading " + path + ": " + LastError());
  }
  std::string out(data, got);
  std::free(data);
  return out;
}

}  // namespace sendense::guest
