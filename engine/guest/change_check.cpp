#include "engine/guest/change_check.h"

#include <algorithm>
#include <memory>

#include "engine/catalog/guest_diff.h"
#include "engine/catalog/guest_index.h"
#include "engine/guest/extent_map.h"
#include "engine/guest/indexer.h"
#include "engine/qcow2/chain_reader.h"
#include "engine/repo/repository_key.h"

namespace sendense::guest {
namespace {

constexpr size_t kSamples = 40;
constexpr uint64_t kSampleBytes = 4096;
// Until a VM has this many reports, its usual share is taken as 5%.
constexpr size_t kHistory = 3;
constexpr double kDefaultShare = 0.05;

// The first bytes of each candidate's data, through its extent map.
std::vector<EntropySample> Sample(const Repository& repo,
                                  const BackupRecord& backup,
                                  GuestIndex& index,
                                  const GuestDiff& diff) {
  const auto candidates = SampleCandidates(diff, kSamples);
  if (candidates.empty()) {
    return {};
  }
  const auto drives = DrivesOf(repo, backup);
  std::vector<uint64_t> sizes;
  for (const auto& d : drives) {
    sizes.push_back(d.size);
  }
  qcow2::ChainReader::Options options;
  options.check_digests = true;
  options.luks_passphrase = LoadKey(repo, backup.vm).passphrase;
  std::vector<std::unique_ptr<qcow2::ChainReader>> chains(drives.size());
  std::vector<EntropySample> out;
  for (const GuestChange* c : candidates) {
    try {
      const auto bytes = index.Extents(c->entry_id);
      const auto map = bytes ? DecodeMap(*bytes) : std::nullopt;
      if (!map || map->empty() || !CheckMap(*map, c->size, sizes).empty()) {
        continue;
      }
      const FileExtent& first = map->front();
      if (first.zeros) {
        continue;
      }
      auto& chain = chains[first.disk];
      if (!chain) {
        chain = qcow2::ChainReader::Open(drives[first.disk].path, options);
      }
      std::string data(std::min({kSampleBytes, first.length, c->size}), '\0');
      chain->Read(std::as_writable_bytes(std::span(data)), first.disk_offset);
      out.push_back({c->path, Entropy(data)});
    } catch (const std::exception&) {
      // Unreadable (no key, damaged): not sampled.
    }
  }
  return out;
}

}  // namespace

std::optional<SuspicionReport> CheckChange(const Repository& repo,
                                           const BackupRecord& backup) {
  auto catalog = repo.OpenCatalogForWriting();
  GuestIndex index(repo.CatalogPath());
  std::optional<BackupRecord> before;
  std::vector<double> shares;
  for (const auto& b : catalog->Backups(backup.vm)) {
    if (b.id >= backup.id || b.state != BackupState::kComplete) {
      continue;
    }
    const auto run = index.LastRun(b.id);
    if (run && run->error.empty() && run->filesystems > 0) {
      before = b;
    }
    // Backups() read each report already (reviewed ones say so).
    const auto earlier =
        nlohmann::json::parse(b.suspicion, nullptr, false, true);
    if (earlier.is_object() && earlier.value("state", "") == "clean") {
      shares.push_back(earlier.value("changed_share", 0.0));
    }
  }
  if (!before) {
    return std::nullopt;
  }
  const GuestDiff diff =
      DiffGuestFiles(*catalog, index, backup.vm, before->name, backup.name, "");
  size_t regular_before = 0;
  for (const auto& fs : index.Filesystems(before->id)) {
    regular_before += static_cast<size_t>(fs.regular_files);
  }
  double usual = kDefaultShare;
  if (shares.size() >= kHistory) {
    std::nth_element(shares.begin(), shares.begin() + shares.size() / 2,
                     shares.end());
    usual = shares[shares.size() / 2];
  }
  const auto report = CheckSuspicion(diff, regular_before, usual,
                                     Sample(repo, backup, index, diff));
  catalog->RecordSuspicion(backup.id, SuspicionJson(report, before->name));
  return report;
}

}  // namespace sendense::guest
