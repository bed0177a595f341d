#include "engine/qcow2/point_writer.h"

#include <algorithm>
#include <cstring>

#include "engine/crypto/luks.h"
#include "engine/error.h"
#include "engine/io/file.h"
#include "engine/qcow2/compression.h"
#include "engine/qcow2/format.h"
#include "engine/qcow2/header.h"

namespace sendense::qcow2 {
PointWriter::PointWriter(const std::string& path,
                         const PointWriterOptions& options)
    : path_(path), options_(options) {
  if (options_.cluster_bits < kMinClusterBits ||
      options_.cluster_bits > kMaxClusterBits) {
    throw Error(ErrorKind::kInvalidArgument,
                "cluster size must be between 512 B and 2 MiB");
  }
  if (options_.virtual_size > kMaxVirtualSize) {
    throw Error(ErrorKind::kInvalidArgument, "virtual size exceeds 1 PiB");
  }
  cluster_size_ = uint64_t{1} << options_.cluster_bits;
  l2_entries_ = cluster_size_ / 8;
  if (!options_.luks_passphrase.empty()) {
    options_.compress = false;  // qemu neither writes nor reads them so
  }
  const uint64_t header_bytes = kV3HeaderLength + 8 + 24 +
                                ((options_.backing_format.size() + 7) & ~7ul) +
                                8 + options_.backing_name.size();
  if (options_.backing_name.size() > kMaxBackingNameLength ||
      header_bytes > cluster_size_) {
    throw Error(ErrorKind::kInvalidArgument,
                "backing file name too long for the cluster size");
  }
  file_ = File::CreateExclusive(path);
  if (!options_.sums_path.empty()) {
    sums_ = SumsFile::Create(options_.sums_path);
  }
  const uint64_t l1_size =
      DivRoundUp(options_.virtual_size, l2_entries_ * cluster_size_);
  l1_.assign(l1_size, 0);
  table_capacity_ =
      std::max<size_t>(2, options_.l2_cache_bytes / cluster_size_);
  AllocateClusters(1);  // the header
  if (!options_.luks_passphrase.empty()) {
    const auto luks = crypto::CreateLuks(options_.luks_passphrase);
    crypto_length_ = luks.region.size();
    crypto_offset_ =
        AllocateClusters(DivRoundUp(crypto_length_, cluster_size_)) *
        cluster_size_;
    std::vector<std::byte> region = luks.region;
    region.resize(DivRoundUp(crypto_length_, cluster_size_) * cluster_size_);
    file_.WriteAll(region, crypto_offset_);
    cipher_ = std::make_unique<crypto::XtsCipher>(luks.master_key);
  }
  l1_offset_ = AllocateClusters(std::max<uint64_t>(
                   1, DivRoundUp(l1_size * 8, cluster_size_))) *
               cluster_size_;
  if (options_.compress) {
    compress_threads_ = std::max(1u, options_.compress_threads);
    compressors_ =
        std::make_unique<WorkerPool>(compress_threads_, "sendense-zstd");
  }
}

PointWriter::~PointWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  compressors_.reset();  // queued compressions return at once
}

void PointWriter::CheckRange(uint64_t offset, uint64_t length) const {
  if (finished_) {
    throw Error(ErrorKind::kInvalidArgument, "write after Finish");
  }
  const uint64_t end = offset + length;
  if (end < offset || end > options_.virtual_size) {
    throw Error(ErrorKind::kInvalidArgument,
                "write past the end of the virtual disk");
  }
  if (offset % cluster_size_ != 0 ||
      (end % cluster_size_ != 0 && end != options_.virtual_size)) {
    throw Error(ErrorKind::kInvalidArgument,
                "writes must cover whole clusters");
  }
}

uint64_t PointWriter::AllocateClusters(uint64_t count) {
  const uint64_t first = next_host_cluster_;
  next_host_cluster_ += count;
  return first;
}

PointWriter::L2Slot& PointWriter::Table(uint64_t l1_index) {
  auto it = tables_.find(l1_index);
  if (it != tables_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return it->second;
  }
  if (tables_.size() >= table_capacity_) {
    EvictOne();
  }
  L2Slot slot;
  slot.entries.assign(l2_entries_, 0);
  // An evicted table not written yet (or being written): its newest copy.
  const std::vector<std::byte>* pending = nullptr;
  for (auto* list : {&flushing_, &evicted_}) {
    for (const auto& e : *list) {
      if (e.l1_index == l1_index) {
        pending = &e.raw;
      }
    }
  }
  if (l1_[l1_index] == 0) {
    l1_[l1_index] = AllocateClusters(1) * cluster_size_;
    slot.dirty = true;
  } else if (pending != nullptr) {
    for (uint64_t i = 0; i < l2_entries_; ++i) {
      slot.entries[i] = LoadBe64(&(*pending)[i * 8]);
    }
    slot.dirty = true;  // written again, after the pending copy
  } else {
    std::vector<std::byte> raw(cluster_size_);
    file_.ReadExact(raw, l1_[l1_index]);
    for (uint64_t i = 0; i < l2_entries_; ++i) {
      slot.entries[i] = LoadBe64(&raw[i * 8]);
    }
  }
  lru_.push_front(l1_index);
  slot.lru = lru_.begin();
  return tables_.emplace(l1_index, std::move(slot)).first->second;
}

std::vector<std::byte> PointWriter::SerializeTable(const L2Slot& slot) const {
  std::vector<std::byte> raw(cluster_size_);
  for (uint64_t i = 0; i < l2_entries_; ++i) {
    StoreBe64(&raw[i * 8], slot.entries[i]);
  }
  return raw;
}

void PointWriter::EvictOne() {
  const uint64_t victim = lru_.back();
  lru_.pop_back();
  auto it = tables_.find(victim);
  if (it->second.dirty) {
    evicted_.push_back({victim, l1_[victim], SerializeTable(it->second)});
  }
  tables_.erase(it);
}

void PointWriter::FlushEvicted() {
  std::lock_guard flush(flush_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (evicted_.empty()) {
      return;
    }
    flushing_ = std::move(evicted_);
    evicted_.clear();
  }
  for (const auto& t : flushing_) {  // only this flush changes flushing_
    file_.WriteAll(t.raw, t.offset);
  }
  std::lock_guard lock(mutex_);
  flushing_.clear();
}

uint64_t& PointWriter::Entry(uint64_t cluster) {
  return Table(cluster / l2_entries_).entries[cluster % l2_entries_];
}

void PointWriter::MarkWritten(uint64_t cluster, uint64_t entry) {
  L2Slot& slot = Table(cluster / l2_entries_);
  uint64_t& e = slot.entries[cluster % l2_entries_];
  if (e != 0) {
    throw Error(ErrorKind::kInvalidArgument,
                "cluster " + std::to_string(cluster) + " written twice");
  }
  e = entry;
  slot.dirty = true;
}

void PointWriter::WriteZeroes(uint64_t offset, uint64_t length) {
  CheckRange(offset, length);
  RethrowWorkerError();
  {
    std::lock_guard lock(mutex_);
    stats_.zero_bytes += length;
  }
  if (options_.backing_name.empty()) {
    return;  // unallocated clusters of a full image read as zeros
  }
  const uint64_t first = offset / cluster_size_;
  const uint64_t end = DivRoundUp(offset + length, cluster_size_);
  if (sums_) {
    // Zeros that hide older data are held by this point: they have digests.
    const std::vector<Digest> zeros(end - first,
                                    ZeroClusterDigest(cluster_size_));
    sums_->PutRun(first, zeros);
  }
  {
    std::lock_guard lock(mutex_);
    for (uint64_t c = first; c < end; ++c) {
      MarkWritten(c, kFlagZero);
    }
  }
  FlushEvicted();
}

void PointWriter::WriteData(uint64_t offset, std::span<const std::byte> data) {
  CheckRange(offset, data.size());
  RethrowWorkerError();
  const uint64_t first = offset / cluster_size_;
  size_t pos = 0;
  while (pos < data.size()) {
    const size_t n = std::min<size_t>(cluster_size_, data.size() - pos);
    if (IsZero(data.subspan(pos, n))) {
      WriteZeroes(offset + pos, n);
      pos += n;
      continue;
    }
    if (options_.compress) {
      WaitForJobs(compress_threads_ * 4);
      Job job{first + pos / cluster_size_, {}};
      job.data.assign(data.begin() + pos, data.begin() + pos + n);
      job.data.resize(cluster_size_);  // a short last cluster is zero-padded
      if (sums_) {
        sums_->Put(job.cluster, HashCluster(job.data));
      }
      {
        std::lock_guard lock(mutex_);
        ++jobs_in_flight_;
        stats_.data_bytes += n;
      }
      compressors_->Submit(
          [this, job = std::move(job)]() mutable { Compress(std::move(job)); });
      pos += n;
      continue;
    }
    // Gather the run of non-zero clusters that starts here.
    size_t run = n;
    while (pos + run < data.size()) {
      const size_t m = std::min<size_t>(cluster_size_, data.size() - pos - run);
      if (IsZero(data.subspan(pos + run, m))) {
        break;
      }
      run += m;
    }
    WriteRun(first + pos / cluster_size_, data.subspan(pos, run));
    {
      std::lock_guard lock(mutex_);
      stats_.data_bytes += run;
    }
    pos += run;
  }
}

void PointWriter::RecordDigests(uint64_t first_cluster,
                                std::span<const std::byte> data) {
  if (!sums_) {
    return;
  }
  std::vector<Digest> digests;
  for (size_t pos = 0; pos < data.size(); pos += cluster_size_) {
    const size_t n = std::min<size_t>(cluster_size_, data.size() - pos);
    if (n == cluster_size_) {
      digests.push_back(HashCluster(data.subspan(pos, n)));
    } else {  // the short last cluster, as stored: padded with zeros
      std::vector<std::byte> padded(cluster_size_);
      std::memcpy(padded.data(), data.data() + pos, n);
      digests.push_back(HashCluster(padded));
    }
  }
  sums_->PutRun(first_cluster, digests);
}

void PointWriter::WriteRun(uint64_t first_cluster,
                           std::span<const std::byte> data) {
  const uint64_t count = DivRoundUp(data.size(), cluster_size_);
  uint64_t host;
  {
    std::lock_guard lock(mutex_);
    // Touch the L2 tables first so that the data clusters stay contiguous.
    for (uint64_t c = first_cluster; c < first_cluster + count; ++c) {
      if (Entry(c) != 0) {
        throw Error(ErrorKind::kInvalidArgument,
                    "cluster " + std::to_string(c) + " written twice");
      }
    }
    host = AllocateClusters(count) * cluster_size_;
    for (uint64_t i = 0; i < count; ++i) {
      MarkWritten(first_cluster + i, (host + i * cluster_size_) | kFlagCopied);
    }
  }
  FlushEvicted();
  if (cipher_) {
    // Whole clusters, encrypted at their host sectors (LUKS in QCOW2 takes
    // the IV from the host offset).
    thread_local std::vector<std::byte> sealed;
    sealed.assign(data.begin(), data.end());
    sealed.resize(count * cluster_size_);
    cipher_->Encrypt(sealed, host / crypto::kSectorBytes);
    file_.WriteAll(sealed, host);
    RecordDigests(first_cluster, sealed);
  } else {
    file_.WriteAll(data, host);
    if (data.size() % cluster_size_ != 0) {
      // Keep whole clusters in the file so that the image is not truncated.
      std::vector<std::byte> pad(cluster_size_ - data.size() % cluster_size_);
      file_.WriteAll(pad, host + data.size());
    }
    RecordDigests(first_cluster, data);
  }
  KickWriteback();
}

void PointWriter::KickWriteback() {
  // Write-behind: start writeback of each new batch as soon as it is
  // written, and wait for (and drop from the page cache) the batch written
  // a few batches ago. The copy never piles up dirty pages, so pwrite stays
  // a plain memory copy and the final fsync has almost nothing left to do.
  constexpr uint64_t kBatch = 8 << 20;
  constexpr uint64_t kLag = 32 << 20;
  uint64_t start_from, start_to, drop_from = 0, drop_to = 0;
  {
    std::lock_guard lock(mutex_);
    start_to = next_host_cluster_ * cluster_size_;
    if (start_to - writeback_from_ < kBatch) {
      return;
    }
    start_from = writeback_from_;
    writeback_from_ = start_to;
    if (start_from > dropped_to_ + kLag) {
      drop_from = dropped_to_;
      drop_to = start_from - kLag;
      dropped_to_ = drop_to;
    }
  }
  file_.StartWriteback(start_from, start_to - start_from);
  if (drop_to > drop_from) {
    file_.FlushAndDropCache(drop_from, drop_to - drop_from);
  }
}

void PointWriter::StoreCompressed(uint64_t cluster,
                                  std::span<const std::byte> data,
                                  std::span<std::byte> scratch) {
  thread_local ZstdCompressor compressor;
  // Only worth it when at least one sector is saved, as in qemu.
  const size_t size = compressor.Compress(
      data, scratch.first(
                std::min<size_t>(scratch.size(), cluster_size_ - kSectorSize)));
  if (size == 0) {
    WriteRun(cluster, data);
    return;
  }
  uint64_t offset;
  {
    std::lock_guard lock(mutex_);
    const uint64_t used = compressed_cursor_ % cluster_size_;
    if (compressed_cursor_ == 0 || used == 0 || used + size > cluster_size_) {
      compressed_cursor_ = AllocateClusters(1) * cluster_size_;
    }
    offset = compressed_cursor_;
    compressed_cursor_ += size;
    ++compressed_refcounts_[offset / cluster_size_];
    const uint32_t shift = 62 - (options_.cluster_bits - 8);
    const uint64_t sectors =
        ((offset + size - 1) / kSectorSize) - (offset / kSectorSize);
    MarkWritten(cluster, kFlagCompressed | (sectors << shift) | offset);
  }
  FlushEvicted();
  file_.WriteAll(scratch.first(size), offset);
  KickWriteback();
}

void PointWriter::Compress(Job job) {
  thread_local std::vector<std::byte> scratch;
  bool skip;
  {
    std::lock_guard lock(mutex_);
    skip = stopping_ || worker_error_;
  }
  if (!skip) {
    scratch.resize(cluster_size_);
    try {
      StoreCompressed(job.cluster, job.data, scratch);
    } catch (...) {
      std::lock_guard error_lock(mutex_);
      if (!worker_error_) {
        worker_error_ = std::current_exception();
      }
    }
  }
  std::lock_guard lock(mutex_);
  --jobs_in_flight_;
  jobs_changed_.notify_all();
}

void PointWriter::WaitForJobs(size_t max_pending) {
  std::unique_lock lock(mutex_);
  jobs_changed_.wait(lock, [&] { return jobs_in_flight_ <= max_pending; });
}

void PointWriter::RethrowWorkerError() {
  std::lock_guard lock(mutex_);
  if (worker_error_) {
    std::rethrow_exception(worker_error_);
  }
}

void PointWriter::WriteRefcounts(uint64_t& table_offset,
                                 uint32_t& table_clusters) {
  // Refcount blocks and the refcount table go at the end and must count
  // themselves: grow them until the sizes settle.
  const uint64_t per_block = cluster_size_ * 8 / 16;
  const uint64_t base = next_host_cluster_;
  uint64_t blocks = 0;
  uint64_t table = 0;
  while (true) {
    const uint64_t total = base + blocks + table;
    const uint64_t need_blocks = DivRoundUp(total, per_block);
    const uint64_t need_table = DivRoundUp(need_blocks * 8, cluster_size_);
    if (need_blocks == blocks && need_table == table) {
      break;
    }
    blocks = need_blocks;
    table = need_table;
  }
  const uint64_t table_first = AllocateClusters(table);
  const uint64_t blocks_first = AllocateClusters(blocks);

  std::vector<std::byte> raw(cluster_size_);
  std::vector<std::byte> table_raw(table * cluster_size_);
  for (uint64_t b = 0; b < blocks; ++b) {
    std::fill(raw.begin(), raw.end(), std::byte{0});
    for (uint64_t i = 0; i < per_block; ++i) {
      const uint64_t c = b * per_block + i;
      if (c >= next_host_cluster_) {
        break;
      }
      const auto it = compressed_refcounts_.find(c);
      StoreBe16(&raw[i * 2],
                it == compressed_refcounts_.end() ? 1 : it->second);
    }
    const uint64_t where = (blocks_first + b) * cluster_size_;
    file_.WriteAll(raw, where);
    StoreBe64(&table_raw[b * 8], where);
  }
  file_.WriteAll(table_raw, table_first * cluster_size_);
  table_offset = table_first * cluster_size_;
  table_clusters = static_cast<uint32_t>(table);
}

void PointWriter::Finish() {
  if (finished_) {
    throw Error(ErrorKind::kInvalidArgument, "Finish called twice");
  }
  WaitForJobs(0);
  RethrowWorkerError();
  FlushEvicted();
  // Every write has returned: the metadata is written with nothing else
  // running (the lock only keeps the rules).
  std::lock_guard lock(mutex_);
  finished_ = true;
  for (const auto& [index, slot] : tables_) {
    if (slot.dirty) {
      file_.WriteAll(SerializeTable(slot), l1_[index]);
    }
  }
  tables_.clear();
  lru_.clear();

  std::vector<std::byte> l1_raw(std::max<uint64_t>(l1_.size() * 8, 8));
  for (size_t i = 0; i < l1_.size(); ++i) {
    StoreBe64(&l1_raw[i * 8], l1_[i] == 0 ? 0 : (l1_[i] | kFlagCopied));
  }
  file_.WriteAll(l1_raw, l1_offset_);

  Header h;
  h.cluster_bits = options_.cluster_bits;
  h.virtual_size = options_.virtual_size;
  h.l1_size = static_cast<uint32_t>(l1_.size());
  h.l1_table_offset = l1_offset_;
  WriteRefcounts(h.refcount_table_offset, h.refcount_table_clusters);
  if (options_.compress) {
    h.incompatible_features |= kIncompatCompressionType;
    h.compression_type = kCompressionZstd;
  }
  if (cipher_) {
    h.crypt_method = kCryptLuks;
    h.crypto_offset = crypto_offset_;
    h.crypto_length = crypto_length_;
  }
  h.backing_name = options_.backing_name;
  if (!h.backing_name.empty()) {
    h.backing_format = options_.backing_format;
  }
  // Everything the header points at is durable before the header exists.
  file_.Sync();
  if (sums_) {
    sums_->Sync();
  }
  file_.WriteAll(SerializeHeader(h), 0);
  file_.Sync();
  stats_.file_bytes = file_.Size();
}

}  // namespace sendense::qcow2
