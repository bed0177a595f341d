#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <list>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/crypto/xts_cipher.h"
#include "engine/io/file.h"
#include "engine/qcow2/cluster_sums.h"
#include "engine/worker_pool.h"

namespace sendense::qcow2 {

struct PointWriterOptions {
  uint64_t virtual_size = 0;
  uint32_t cluster_bits = 16;  // 64 KiB
  // Relative name of the backing file (an overlay), empty for a full image.
  std::string backing_name;
  std::string backing_format = "qcow2";
  bool compress = false;          // zstd, on worker threads
  unsigned compress_threads = 2;  // used when compress is set
  size_t l2_cache_bytes = size_t{2} << 20;
  // Where to record each stored cluster's digest (SumsFile), "" for none.
  // Digests are of the clusters as stored (ciphertext when encrypted).
  std::string sums_path;
  // Encrypt with LUKS (aes-xts-plain64, a new random master key) whose
  // slot 0 this unlocks; "" for a plain image. Encrypted images are not
  // compressed (`compress` is ignored), as in qemu.
  std::string luks_passphrase;
};

struct PointWriterStats {
  uint64_t data_bytes = 0;  // non-zero data written
  uint64_t zero_bytes = 0;  // ranges recorded as zeros (given or detected)
  uint64_t file_bytes = 0;  // size of the finished file
};

// Writes one new QCOW2 v3 image sequentially: a full image, or an overlay
// of a backing file named relative to it with its format recorded.
//
// Each guest cluster may be written once, by WriteData or WriteZeroes, with
// cluster-aligned ranges (the last one may end at virtual_size). Clusters
// never written fall through to the backing file (or read as zeros). In an
// overlay, zero ranges and all-zero data become zero clusters that hide the
// backing data; in a full image they are simply left unallocated.
//
// Host space is allocated with a bump pointer, so every host cluster below
// it is in use exactly once (refcount 1) except the ones packed with
// compressed clusters, which are counted; L2 tables live in a bounded
// write-back cache. Memory stays bounded whatever the disk size (the L1
// table is 8 bytes per 512 MiB). Refcounts, the L1 table and the header are
// written at Finish, so the file only becomes a valid image at the very end
// and `qemu-img check` finds no errors and no leaks.
//
// Thread model: WriteData and WriteZeroes may be called from several
// threads at once for different clusters (metadata is guarded by one mutex;
// nothing is written to the file under it: data, and L2 tables evicted from
// the cache, are written after it is released); Finish is called once,
// after every write has returned, and writes the metadata alone. With
// compression, clusters are compressed by an internal pool and written as they
// complete. Errors are thrown as sendense::Error, including errors from the
// pool (on the next call).
class PointWriter {
 public:
  // Creates `path`, which must not exist.
  PointWriter(const std::string& path, const PointWriterOptions& options);
  ~PointWriter();
  PointWriter(const PointWriter&) = delete;
  PointWriter& operator=(const PointWriter&) = delete;

  void WriteData(uint64_t offset, std::span<const std::byte> data);
  void WriteZeroes(uint64_t offset, uint64_t length);
  // Writes tables, refcounts and the header, then fsyncs the file.
  void Finish();

  // Valid after Finish.
  const PointWriterStats& stats() const { return stats_; }
  uint64_t cluster_size() const { return cluster_size_; }

 private:
  struct L2Slot {
    std::vector<uint64_t> entries;
    bool dirty = false;
    std::list<uint64_t>::iterator lru;
  };
  struct Job {
    uint64_t cluster = 0;
    std::vector<std::byte> data;
  };

  void CheckRange(uint64_t offset, uint64_t length) const;
  // Metadata helpers; callers hold mutex_.
  uint64_t AllocateClusters(uint64_t count);
  uint64_t& Entry(uint64_t cluster);
  L2Slot& Table(uint64_t l1_index);
  void EvictOne();
  std::vector<std::byte> SerializeTable(const L2Slot& slot) const;
  // Writes the tables EvictOne set aside; never under mutex_.
  void FlushEvicted();
  void MarkWritten(uint64_t cluster, uint64_t entry);

  // Writes a run of data clusters (encrypted first when the image is) and
  // records their digests as stored.
  void WriteRun(uint64_t first_cluster, std::span<const std::byte> data);
  void KickWriteback();
  void StoreCompressed(uint64_t cluster,
                       std::span<const std::byte> data,
                       std::span<std::byte> scratch);
  void Compress(Job job);
  void WaitForJobs(size_t max_pending);
  void RethrowWorkerError();
  void WriteRefcounts(uint64_t& table_offset, uint32_t& table_clusters);

  // Records the digests of the clusters of `data` from `first_cluster`.
  void RecordDigests(uint64_t first_cluster, std::span<const std::byte> data);

  std::string path_;
  PointWriterOptions options_;
  File file_;
  std::optional<SumsFile> sums_;
  uint64_t cluster_size_;
  uint64_t l2_entries_;
  uint64_t l1_offset_;
  // Encrypted: the LUKS header's place and the data cipher.
  uint64_t crypto_offset_ = 0, crypto_length_ = 0;
  std::unique_ptr<crypto::XtsCipher> cipher_;
  std::atomic<bool> finished_{false};
  PointWriterStats stats_;

  std::mutex mutex_;  // guards everything below
  uint64_t next_host_cluster_ = 0;
  // Every allocated host cluster has refcount 1 except those holding
  // compressed clusters, which count the compressed clusters inside.
  std::unordered_map<uint64_t, uint16_t> compressed_refcounts_;
  std::vector<uint64_t> l1_;  // host offsets of L2 tables
  std::unordered_map<uint64_t, L2Slot> tables_;
  std::list<uint64_t> lru_;  // cached L1 indexes, most recent first
  size_t table_capacity_;
  // Dirty tables evicted from the cache, waiting for FlushEvicted (and
  // the ones it is writing): Table() takes them from here, not the file.
  struct EvictedTable {
    uint64_t l1_index;
    uint64_t offset;
    std::vector<std::byte> raw;
  };
  std::vector<EvictedTable> evicted_;
  std::vector<EvictedTable> flushing_;
  std::mutex flush_mutex_;  // one flush at a time: writes keep their order
  uint64_t compressed_cursor_ = 0;  // next free byte in a compressed cluster
  uint64_t writeback_from_ = 0;     // host bytes below were handed to the disk
  uint64_t dropped_to_ = 0;         // host bytes below were dropped from cache

  // Compression pool.
  std::condition_variable jobs_changed_;
  size_t jobs_in_flight_ = 0;
  bool stopping_ = false;  // queued compressions are dropped
  std::exception_ptr worker_error_;
  size_t compress_threads_ = 0;
  // Last: destroyed (joined) first, while what its tasks use is alive.
  std::unique_ptr<WorkerPool> compressors_;
};

}  // namespace sendense::qcow2
