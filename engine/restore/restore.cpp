#include "engine/restore/restore.h"
#include "engine/repo/repository_key.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/error.h"
#include "engine/io/file.h"
#include "engine/qcow2/chain_reader.h"
#include "engine/repo/damage_record.h"
#include "engine/repo/point_lease.h"
#include "engine/restore/point_choice.h"
#include "engine/restore/restore_target.h"

namespace sendense::restore {
namespace {

constexpr uint64_t kChunk = uint64_t{4} << 20;
constexpr uint64_t kBlock = uint64_t{64} << 10;  // zero detection unit
constexpr unsigned kReaders = 8;  // deep chains read cold gain up to 8
constexpr std::chrono::milliseconds kLeaseWait{2000};

// Copies the chain to the target chunk by chunk on several threads.
class Copier {
 public:
  Copier(const qcow2::ChainReader& chain,
         RestoreTarget& target,
         JobProgress& progress)
      : chain_(chain),
        target_(target),
        progress_(progress),
        lane_locks_(target.lanes()) {}

  void Run() {
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < kReaders; ++i) {
      threads.emplace_back([this, i] { Work(i); });
    }
    for (auto& t : threads) {
      t.join();
    }
    if (error_) {
      std::rethrow_exception(error_);
    }
  }
  uint64_t data_bytes() const { return data_bytes_; }

 private:
  void Work(unsigned worker) {
    try {
      std::vector<std::byte> buffer(kChunk);
      const unsigned lane = worker % target_.lanes();
      const uint64_t size = chain_.size();
      for (;;) {
        const uint64_t offset = next_.fetch_add(kChunk);
        if (offset >= size || failed_) {
          return;
        }
        if (progress_.cancel) {
          throw Error(ErrorKind::kCancelled, "the restore was cancelled");
        }
        const uint64_t length = std::min(kChunk, size - offset);
        CopyChunk(lane, offset, std::span(buffer).first(length));
      }
    } catch (...) {
      std::lock_guard lock(error_mutex_);
      if (!error_) {
        error_ = std::current_exception();
      }
      failed_ = true;
    }
  }

  void CopyChunk(unsigned lane, uint64_t offset, std::span<std::byte> buf) {
    uint64_t stored = 0;
    for (const auto& e : chain_.Extents(offset, buf.size())) {
      if (e.kind == qcow2::ExtentKind::kData) {
        stored += e.length;
      }
    }
    if (stored == 0) {
      std::lock_guard lock(lane_locks_[lane]);
      target_.Zero(lane, offset, buf.size());
      return;
    }
    chain_.Read(buf, offset);  // outside the lane's lock: reads overlap
    // Runs of data blocks as writes, runs of zero blocks as zeros.
    struct Run {
      uint64_t start, end;
      bool zero;
    };
    std::vector<Run> runs;
    for (uint64_t b = 0; b < buf.size(); b += kBlock) {
      const uint64_t end = std::min<uint64_t>(b + kBlock, buf.size());
      const bool zero = IsZero(buf.subspan(b, end - b));
      if (!runs.empty() && runs.back().zero == zero) {
        runs.back().end = end;
      } else {
        runs.push_back({b, end, zero});
      }
    }
    uint64_t written = 0;
    std::lock_guard lock(lane_locks_[lane]);
    for (const auto& r : runs) {
      if (r.zero) {
        target_.Zero(lane, offset + r.start, r.end - r.start);
      } else {
        target_.Write(lane, offset + r.start,
                      buf.subspan(r.start, r.end - r.start));
        written += r.end - r.start;
      }
    }
    data_bytes_ += written;
    progress_.bytes_done += stored;
  }

  const qcow2::ChainReader& chain_;
  RestoreTarget& target_;
  JobProgress& progress_;
  std::vector<std::mutex> lane_locks_;
  std::atomic<uint64_t> next_{0};
  std::atomic<uint64_t> data_bytes_{0};
  std::atomic<bool> failed_{false};
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

}  // namespace

nlohmann::json RestoreReportJson(const RestoreReport& r) {
  return {{"vm", r.vm},
          {"backup", r.backup},
          {"disk", r.disk},
          {"target", r.target},
          {"target_kind", r.target_kind},
          {"size", r.size},
          {"data_bytes", r.data_bytes},
          {"zero_bytes", r.zero_bytes},
          {"seconds", r.seconds}};
}

RestoreReport Restore(const Repository& repo,
                      const RestoreRequest& request,
                      JobProgress& progress) {
  const auto start = std::chrono::steady_clock::now();
  const ChosenPoint chosen = [&] {
    auto catalog = repo.OpenCatalog();
    return ChoosePoint(*catalog, request.vm, request.point, request.disk);
  }();
  progress.SetBackupName(chosen.backup.name);
  const std::string path = repo.Absolute(chosen.point.file);
  const PointLease lease(path, PointLease::Mode::kShared, kLeaseWait);
  qcow2::ChainReader::Options options;
  options.check_digests = true;
  const RepositoryKey key = LoadKey(repo, chosen.backup.vm);
  options.luks_passphrase = key.passphrase;
  const auto chain = qcow2::ChainReader::Open(path, options);
  for (size_t i = 0; i < chain->depth(); ++i) {
    if (chain->layer(i).encrypted()) {
      RequireKey(key);  // refused before anything is written
    }
  }

  TargetOptions target_options;
  target_options.disk_size = chain->size();
  target_options.force = request.force;
  target_options.repository = repo.path();
  target_options.sums_path = request.sums_path;
  if (request.encrypt_like_repository && key.encrypts) {
    target_options.luks_passphrase = RequireKey(key);
  }
  target_options.max_connections = request.connections;
  target_options.cancel = &progress.cancel;
  auto target = OpenTarget(request.target, target_options);

  uint64_t stored = 0;
  for (const auto& e : chain->Extents(0, chain->size())) {
    if (e.kind == qcow2::ExtentKind::kData) {
      stored += e.length;
    }
  }
  progress.bytes_total = stored;
  progress.phase = JobPhase::kCopying;
  Copier copier(*chain, *target, progress);
  try {
    copier.Run();
    if (progress.cancel) {
      throw Error(ErrorKind::kCancelled, "the restore was cancelled");
    }
    target->Finish();
  } catch (const qcow2::DigestMismatch& e) {
    target->Discard();
    RecordReadDamage(repo, e);
    throw;
  } catch (...) {
    target->Discard();
    throw;
  }
  progress.phase = JobPhase::kDone;

  RestoreReport report;
  report.vm = chosen.backup.vm;
  report.backup = chosen.backup.name;
  report.disk = chosen.point.disk;
  report.target = request.target;
  report.target_kind = target->kind();
  report.size = chain->size();
  report.data_bytes = copier.data_bytes();
  report.zero_bytes = report.size - report.data_bytes;
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return report;
}

}  // namespace sendense::restore
