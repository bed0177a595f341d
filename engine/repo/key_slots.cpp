#include "engine/repo/key_slots.h"

#include "engine/crypto/luks.h"
#include "engine/error.h"
#include "engine/io/file.h"
#include "engine/qcow2/header.h"
#include "engine/repo/repository_key.h"

namespace sendense {
namespace {

// Every encrypted point of the repository, relative paths.
std::vector<std::string> EncryptedPoints(const Repository& repo) {
  std::vector<std::string> files;
  const auto catalog = repo.OpenCatalog();
  for (const auto& vm : catalog->VmNames()) {
    for (const auto& b : catalog->Backups(vm)) {
      for (const auto& p : b.points) {
        if (p.encrypted) {
          files.push_back(p.file);
        }
      }
    }
  }
  return files;
}

// Runs `change` on the LUKS header region of each encrypted point.
template <typename Change>
KeySlotReport EachPoint(const Repository& repo, Change change) {
  KeySlotReport report;
  for (const auto& file : EncryptedPoints(repo)) {
    KeySlotChange c{file, false, ""};
    try {
      const std::string path = repo.Absolute(file);
      const File f = File::OpenReadWrite(path);
      const qcow2::Header h = qcow2::ReadHeader(f, f.Size(), path);
      const auto read = [&](std::span<std::byte> out, uint64_t at) {
        f.ReadExact(out, h.crypto_offset + at);
      };
      const auto write = [&](std::span<const std::byte> data, uint64_t at) {
        f.WriteAll(data, h.crypto_offset + at);
        f.Sync();
      };
      c.changed = change(read, write, h.crypto_length, path);
    } catch (const std::exception& e) {
      c.error = e.what();
    }
    report.points.push_back(c);
  }
  return report;
}

}  // namespace

size_t KeySlotReport::changed() const {
  size_t n = 0;
  for (const auto& p : points) {
    n += p.changed;
  }
  return n;
}

size_t KeySlotReport::failed() const {
  size_t n = 0;
  for (const auto& p : points) {
    n += !p.error.empty();
  }
  return n;
}

KeySlotReport AddKey(const Repository& repo, const std::string& new_key) {
  const std::string key = RequireKey(LoadRepositoryKey(repo));
  return EachPoint(repo, [&](const crypto::RegionReader& read,
                             const crypto::RegionWriter& write, uint64_t length,
                             const std::string& path) {
    return crypto::AddLuksKey(read, write, length, key, new_key, path);
  });
}

KeySlotReport RemoveKey(const Repository& repo, const std::string& old_key) {
  const RepositoryKey current = LoadRepositoryKey(repo);
  if (!current.passphrase.empty() && current.passphrase == old_key) {
    throw Error(ErrorKind::kInvalidArgument,
                "the repository reads its points with that key (" +
                    current.file +
                    "): add another with key add --use first, then remove "
                    "this one");
  }
  return EachPoint(repo, [&](const crypto::RegionReader& read,
                             const crypto::RegionWriter& write, uint64_t length,
                             const std::string& path) {
    return crypto::RemoveLuksKey(read, write, length, old_key, path);
  });
}

}  // namespace sendense
