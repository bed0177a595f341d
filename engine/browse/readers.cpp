#include "engine/browse/readers.h"

#include <algorithm>
#include <cstring>

#include "engine/guest/indexer.h"

namespace sendense::browse {

std::optional<uint64_t> Reader::Seek(uint64_t offset, bool data) const {
  return data ? std::optional(offset) : std::optional(size());
}

namespace {

// backup.json: bytes in memory.
class ContentReader : public Reader {
 public:
  explicit ContentReader(std::string content) : content_(std::move(content)) {}
  uint64_t size() const override { return content_.size(); }
  size_t Read(std::span<std::byte> buf, uint64_t offset) const override {
    const size_t start = std::min<uint64_t>(offset, content_.size());
    const size_t n = std::min(buf.size(), content_.size() - start);
    std::memcpy(buf.data(), content_.data() + start, n);
    return n;
  }
  bool in_memory() const override { return true; }

 private:
  std::string content_;
};

// A raw disk: the point's QCOW2 chain, with its holes.
class DiskReader : public Reader {
 public:
  DiskReader(Leases leases,
             std::shared_ptr<const qcow2::ChainReader> chain,
             uint64_t size,
             OnDamage on_damage)
      : leases_(std::move(leases)),
        chain_(std::move(chain)),
        size_(size),
        on_damage_(std::move(on_damage)) {}
  uint64_t size() const override { return size_; }
  size_t Read(std::span<std::byte> buf, uint64_t offset) const override {
    const size_t n = static_cast<size_t>(
        std::min<uint64_t>(buf.size(), size_ - std::min(offset, size_)));
    if (n > 0) {
      try {
        chain_->Read(buf.first(n), offset);
      } catch (const qcow2::DigestMismatch& e) {
        on_damage_(e);
        throw;
      }
    }
    return n;
  }
  std::optional<uint64_t> Seek(uint64_t offset, bool data) const override {
    constexpr uint64_t kWindow = uint64_t{1} << 32;
    for (uint64_t pos = offset; pos < size_;) {
      const uint64_t len = std::min(kWindow, size_ - pos);
      for (const auto& e : chain_->Extents(pos, len)) {
        if ((e.kind == qcow2::ExtentKind::kData) == data) {
          return std::max(e.offset, offset);
        }
      }
      pos += len;
    }
    return data ? std::nullopt : std::optional(size_);
  }

 private:
  Leases leases_;
  std::shared_ptr<const qcow2::ChainReader> chain_;
  uint64_t size_;
  OnDamage on_damage_;
};

// A guest file: read inside the point's libguestfs appliance (started on
// first use, shared by every reader of that point).
class GuestFileReader : public Reader {
 public:
  GuestFileReader(Leases leases,
                  const Repository& repo,
                  guest::AppliancePool& appliances,
                  BackupRecord backup,
                  std::vector<guest::FoundFilesystem> fss,
                  std::string path,
                  uint64_t size)
      : leases_(std::move(leases)),
        repo_(repo),
        appliances_(appliances),
        backup_(std::move(backup)),
        fss_(std::move(fss)),
        path_(std::move(path)),
        size_(size) {}
  uint64_t size() const override { return size_; }
  size_t Read(std::span<std::byte> buf, uint64_t offset) const override {
    auto app = appliances_.Acquire(
        backup_.id, [&] { return guest::ApplianceDrives(repo_, backup_); },
        fss_);
    constexpr size_t kChunk = 1 << 20;  // the appliance's message limit
    size_t done = 0;
    while (done < buf.size() && offset + done < size_) {
      const size_t n = std::min(kChunk, buf.size() - done);
      const std::string data = app->Pread(path_, n, offset + done);
      if (data.empty()) {
        break;  // shorter than indexed: the caller sees a short read
      }
      std::memcpy(buf.data() + done, data.data(), data.size());
      done += data.size();
    }
    return done;
  }

 private:
  Leases leases_;
  const Repository& repo_;
  guest::AppliancePool& appliances_;
  BackupRecord backup_;
  std::vector<guest::FoundFilesystem> fss_;
  std::string path_;  // "/sda1/etc/motd" in the appliance
  uint64_t size_;
};

}  // namespace

std::shared_ptr<Reader> MakeContentReader(std::string content) {
  return std::make_shared<ContentReader>(std::move(content));
}

std::shared_ptr<Reader> MakeDiskReader(
    Leases leases,
    std::shared_ptr<const qcow2::ChainReader> chain,
    uint64_t size,
    OnDamage on_damage) {
  return std::make_shared<DiskReader>(std::move(leases), std::move(chain), size,
                                      std::move(on_damage));
}

std::shared_ptr<Reader> MakeGuestFileReader(
    Leases leases,
    const Repository& repo,
    guest::AppliancePool& appliances,
    BackupRecord backup,
    std::vector<guest::FoundFilesystem> fss,
    std::string path,
    uint64_t size) {
  return std::make_shared<GuestFileReader>(std::move(leases), repo, appliances,
                                           std::move(backup), std::move(fss),
                                           std::move(path), size);
}

}  // namespace sendense::browse
