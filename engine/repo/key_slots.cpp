#include "engine/repo/key_slots.h"

#include <algorithm>
#include <bit>
#include <unordered_map>

#include "engine/catalog/accounts.h"
#include "engine/catalog/names.h"
#include "engine/crypto/luks.h"
#include "engine/error.h"
#include "engine/io/file.h"
#include "engine/qcow2/header.h"

namespace sendense {
namespace {

struct ScopedPoint {
  std::string vm;
  std::string file;  // relative
};

// Every encrypted point of the VMs `in_scope` takes, relative paths.
template <typename InScope>
std::vector<ScopedPoint> EncryptedPoints(const Repository& repo,
                                         InScope in_scope) {
  std::vector<ScopedPoint> files;
  const auto catalog = repo.OpenCatalog();
  for (const auto& vm : catalog->VmNames()) {
    if (!in_scope(vm)) {
      continue;
    }
    for (const auto& b : catalog->Backups(vm)) {
      for (const auto& p : b.points) {
        if (p.encrypted) {
          files.push_back({vm, p.file});
        }
      }
    }
  }
  return files;
}

std::vector<ScopedPoint> PointsOf(const Repository& repo,
                                  const KeyScope& scope) {
  return EncryptedPoints(
      repo, [&](const std::string& vm) { return ScopeOf(repo, vm) == scope; });
}

// Runs `change(vm, read, write, length, path)` on the LUKS header region
// of each point.
template <typename Change>
KeySlotReport EachPoint(const Repository& repo,
                        const std::vector<ScopedPoint>& points,
                        Change change) {
  KeySlotReport report;
  for (const auto& point : points) {
    KeySlotChange c{point.file, false, ""};
    try {
      const std::string path = repo.Absolute(point.file);
      const File f = File::OpenReadWrite(path);
      const qcow2::Header h = qcow2::ReadHeader(f, f.Size(), path);
      const auto read = [&](std::span<std::byte> out, uint64_t at) {
        f.ReadExact(out, h.crypto_offset + at);
      };
      const auto write = [&](std::span<const std::byte> data, uint64_t at) {
        f.WriteAll(data, h.crypto_offset + at);
        f.Sync();
      };
      c.changed = change(point.vm, read, write, h.crypto_length, path);
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

KeySlotReport AddKey(const Repository& repo,
                     const KeyScope& scope,
                     const std::string& new_key) {
  const std::string key = RequireKey(LoadScopeKey(repo, scope));
  return EachPoint(repo, PointsOf(repo, scope),
                   [&](const std::string&, const crypto::RegionReader& read,
                       const crypto::RegionWriter& write, uint64_t length,
                       const std::string& path) {
                     return crypto::AddLuksKey(read, write, length, key,
                                               new_key, path);
                   });
}

KeySlotReport RemoveKey(const Repository& repo,
                        const KeyScope& scope,
                        const std::string& old_key) {
  const RepositoryKey current = LoadScopeKey(repo, scope);
  if (!current.passphrase.empty() && current.passphrase == old_key) {
    throw Error(ErrorKind::kInvalidArgument,
                "the points of " + scope.Describe() +
                    " are read with that key (" + current.file +
                    "): add another with key add --use (or key set) first, "
                    "then remove this one");
  }
  return EachPoint(repo, PointsOf(repo, scope),
                   [&](const std::string&, const crypto::RegionReader& read,
                       const crypto::RegionWriter& write, uint64_t length,
                       const std::string& path) {
                     return crypto::RemoveLuksKey(read, write, length, old_key,
                                                  path);
                   });
}

KeySlotReport SetScopeKey(const Repository& repo,
                          const KeyScope& scope,
                          const std::string& file,
                          const std::string& key) {
  if (scope.kind == KeyScope::Kind::kRepository) {
    throw Error(ErrorKind::kInvalidArgument,
                "key set gives a tenant or a VM its own key (--tenant T or "
                "--vm V); the repository's key changes with key add --use");
  }
  const auto vms = repo.OpenCatalog()->VmNames();
  std::vector<std::string> members;
  for (const auto& vm : vms) {
    const bool member = scope.kind == KeyScope::Kind::kVm
                            ? vm == scope.name
                            : TenantOf(vm) == scope.name &&
                                  ScopeOf(repo, vm).kind != KeyScope::Kind::kVm;
    if (member) {
      members.push_back(vm);
    }
  }
  if (scope.kind == KeyScope::Kind::kVm && members.empty()) {
    ThrowNoSuchVm(scope.name, vms);
  }
  if (scope.kind == KeyScope::Kind::kTenant &&
      !Accounts(repo.CatalogPath()).FindTenant(scope.name)) {
    throw Error(ErrorKind::kNotFound, "no tenant named '" + scope.name + "'");
  }
  std::unordered_map<std::string, std::string> keys;  // by VM, until now
  auto report = EachPoint(
      repo,
      EncryptedPoints(repo,
                      [&](const std::string& vm) {
                        return std::find(members.begin(), members.end(), vm) !=
                               members.end();
                      }),
      [&](const std::string& vm, const crypto::RegionReader& read,
          const crypto::RegionWriter& write, uint64_t length,
          const std::string& path) {
        auto it = keys.find(vm);
        if (it == keys.end()) {
          it = keys.emplace(vm, RequireKey(LoadKey(repo, vm))).first;
        }
        return crypto::AddLuksKey(read, write, length, it->second, key, path);
      });
  if (report.failed() == 0) {
    repo.OpenCatalogForWriting()->SetSetting(scope.Setting(), file);
  }
  return report;
}

KeyListing ListKeys(const Repository& repo,
                    const KeyScope& scope,
                    const std::vector<std::string>& key_files) {
  KeyListing out;
  out.key = LoadScopeKey(repo, scope);
  std::vector<std::string> passphrases;
  if (!out.key.passphrase.empty()) {
    out.keys.push_back({out.key.file, true, 0});
    passphrases.push_back(out.key.passphrase);
  }
  for (const auto& file : key_files) {
    if (!out.key.passphrase.empty() && file == out.key.file) {
      continue;
    }
    out.keys.push_back({file, false, 0});
    passphrases.push_back(ReadKeyFile(file));
  }
  const auto points = PointsOf(repo, scope);
  out.points = points.size();
  for (const auto& point : points) {
    try {
      const std::string path = repo.Absolute(point.file);
      const File f = File::OpenReadOnly(path);
      const qcow2::Header h = qcow2::ReadHeader(f, f.Size(), path);
      const auto read = [&](std::span<std::byte> o, uint64_t at) {
        f.ReadExact(o, h.crypto_offset + at);
      };
      uint8_t opened = 0, active = 0;
      for (size_t k = 0; k < passphrases.size(); ++k) {
        const auto slots =
            crypto::InspectLuks(read, h.crypto_length, passphrases[k], path);
        active = slots.active;
        if (slots.opened >= 0) {
          ++out.keys[k].opens;
          opened |= static_cast<uint8_t>(1u << slots.opened);
        }
      }
      if (passphrases.empty()) {
        active = crypto::InspectLuks(read, h.crypto_length, "", path).active;
      }
      out.other_slots += std::popcount(static_cast<uint8_t>(active & ~opened));
    } catch (const std::exception& e) {
      out.unreadable.push_back({point.file, false, e.what()});
    }
  }
  return out;
}

}  // namespace sendense
