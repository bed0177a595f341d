#include "engine/qcow2/merge.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <vector>

#include "engine/error.h"
#include "engine/io/file.h"
#include "engine/qcow2/format.h"
#include "engine/qcow2/header.h"
#include "engine/qcow2/image.h"

namespace sendense::qcow2 {
namespace {

// Header fields rewritten when the refcount table moves (qcow2.txt).
constexpr uint64_t kRefcountTableOffsetField = 48;

// The parent image opened for writing: its L1 table, and a reference count
// per host cluster rebuilt from what its tables reference (the refcount
// blocks on disk are not trusted: a crashed merge leaves them stale).
class WritableImage {
 public:
  WritableImage(const std::string& path)
      : path_(path), file_(File::OpenReadWrite(path)) {
    header_ = ReadHeader(file_, file_.Size(), path);
    if (header_.refcount_order != 4) {
      throw Error(ErrorKind::kUnsupported,
                  path + ": only 16-bit refcounts can be merged into");
    }
    cs_ = header_.cluster_size();
    refs_.assign(DivRoundUp(file_.Size(), cs_), 0);
    Scan();
  }

  const Header& header() const { return header_; }
  const File& file() const { return file_; }
  uint64_t cluster_size() const { return cs_; }

  // The L2 table `index` (zeros when it has none).
  std::vector<uint64_t> Table(uint64_t index) const {
    std::vector<uint64_t> entries(cs_ / 8, 0);
    if (l1_[index] != 0) {
      std::vector<std::byte> raw(cs_);
      file_.ReadExact(raw, l1_[index]);
      for (size_t i = 0; i < entries.size(); ++i) {
        entries[i] = LoadBe64(&raw[i * 8]);
      }
    }
    return entries;
  }

  // Writes table `index` (after the data it references); a new table is
  // given a cluster, and its L1 entry is written after it.
  void StoreTable(uint64_t index, const std::vector<uint64_t>& entries) {
    const bool fresh = l1_[index] == 0;
    if (fresh) {
      l1_[index] = Allocate() * cs_;
    }
    std::vector<std::byte> raw(cs_);
    for (size_t i = 0; i < entries.size(); ++i) {
      StoreBe64(&raw[i * 8], entries[i]);
    }
    file_.WriteAll(raw, l1_[index]);
    if (fresh) {
      std::byte e[8];
      StoreBe64(e, l1_[index] | kFlagCopied);
      file_.WriteAll(e, header_.l1_table_offset + index * 8);
    }
  }

  // One free host cluster (first fit, else at the end), now used once.
  uint64_t Allocate() {
    while (next_free_ < refs_.size() && refs_[next_free_] != 0) {
      ++next_free_;
    }
    if (next_free_ == refs_.size()) {
      refs_.push_back(0);
    }
    refs_[next_free_] = 1;
    return next_free_++;
  }
  // `count` free clusters in a row at the end of the file.
  uint64_t AllocateAtEnd(uint64_t count) {
    const uint64_t first = UsedClusters();
    refs_.resize(std::max<uint64_t>(refs_.size(), first + count), 0);
    for (uint64_t c = first; c < first + count; ++c) {
      refs_[c] = 1;
    }
    return first;
  }
  void Ref(uint64_t cluster) {
    if (cluster >= refs_.size()) {
      if (cluster > (kMaxVirtualSize >> header_.cluster_bits) * 2) {
        Corrupt("a table references a cluster far past the end of the file");
      }
      refs_.resize(cluster + 1, 0);
    }
    if (refs_[cluster] == UINT16_MAX) {
      Corrupt("a cluster is referenced too often");
    }
    ++refs_[cluster];
  }
  // Drops one reference; true when the cluster is now free.
  bool Unref(uint64_t cluster) {
    if (cluster < refs_.size() && refs_[cluster] > 0) {
      return --refs_[cluster] == 0;
    }
    return false;
  }
  uint16_t RefsOf(uint64_t cluster) const {
    return cluster < refs_.size() ? refs_[cluster] : 0;
  }
  // Host clusters spanned by a compressed entry.
  std::pair<uint64_t, uint64_t> CompressedSpan(uint64_t entry) const {
    const uint32_t shift = 62 - (header_.cluster_bits - 8);
    const uint64_t off = entry & ((uint64_t{1} << shift) - 1);
    const uint64_t sectors =
        ((entry >> shift) & ((uint64_t{1} << (header_.cluster_bits - 8)) - 1)) +
        1;
    const uint64_t end = (off & ~(kSectorSize - 1)) + sectors * kSectorSize;
    return {off / cs_, (end - 1) / cs_ + 1};
  }

  // Rewrites the refcount blocks (and the table, moved when it is too
  // small), frees what is unused, and makes it all durable.
  uint64_t Finish() {
    const uint64_t per_block = cs_ / 2;  // 16-bit entries
    const uint64_t table_first = header_.refcount_table_offset / cs_;
    uint64_t table_clusters = header_.refcount_table_clusters;
    uint64_t table_at = table_first;
    std::vector<uint64_t> blocks;
    while (true) {
      const uint64_t need = DivRoundUp(UsedClusters(), per_block);
      if (blocks.size() < need) {
        blocks.push_back(Allocate());
        continue;
      }
      if (need * 8 > table_clusters * cs_) {
        // A bigger table, in one run at the end; the old one is freed.
        for (uint64_t c = table_at; c < table_at + table_clusters; ++c) {
          Unref(c);
        }
        table_clusters = DivRoundUp((need + need / 4 + 1) * 8, cs_);
        table_at = AllocateAtEnd(table_clusters);
        continue;
      }
      break;
    }
    const uint64_t used = UsedClusters();
    std::vector<std::byte> raw(cs_);
    std::vector<std::byte> table(table_clusters * cs_);
    for (uint64_t b = 0; b < blocks.size(); ++b) {
      std::fill(raw.begin(), raw.end(), std::byte{0});
      for (uint64_t i = 0; i < per_block && b * per_block + i < used; ++i) {
        StoreBe16(&raw[i * 2], refs_[b * per_block + i]);
      }
      file_.WriteAll(raw, blocks[b] * cs_);
      StoreBe64(&table[b * 8], blocks[b] * cs_);
    }
    file_.WriteAll(table, table_at * cs_);
    if (table_at != table_first) {
      std::byte fields[12];
      StoreBe64(fields, table_at * cs_);
      StoreBe32(fields + 8, static_cast<uint32_t>(table_clusters));
      file_.WriteAll(fields, kRefcountTableOffsetField);
    }
    uint64_t freed = 0;
    for (uint64_t c = 0; c < used;) {
      if (refs_[c] != 0) {
        ++c;
        continue;
      }
      uint64_t end = c;
      while (end < used && refs_[end] == 0) {
        ++end;
      }
      file_.PunchHole(c * cs_, (end - c) * cs_);
      freed += end - c;
      c = end;
    }
    if (file_.Size() > used * cs_) {
      file_.Truncate(used * cs_);
    }
    file_.Sync();
    return freed;
  }

 private:
  [[noreturn]] void Corrupt(const std::string& why) const {
    throw Error(ErrorKind::kCorrupt, path_ + ": invalid QCOW2 image: " + why);
  }
  uint64_t UsedClusters() const {
    uint64_t n = refs_.size();
    while (n > 0 && refs_[n - 1] == 0) {
      --n;
    }
    return n;
  }
  void RefRange(uint64_t offset, uint64_t bytes) {
    for (uint64_t c = offset / cs_; c < DivRoundUp(offset + bytes, cs_); ++c) {
      Ref(c);
    }
  }
  void Scan() {
    RefRange(0, cs_);  // the header
    RefRange(header_.l1_table_offset, uint64_t{header_.l1_size} * 8);
    RefRange(header_.refcount_table_offset,
             uint64_t{header_.refcount_table_clusters} * cs_);
    if (header_.crypt_method != 0) {
      RefRange(header_.crypto_offset, header_.crypto_length);  // LUKS
    }
    std::vector<std::byte> raw(uint64_t{header_.l1_size} * 8);
    file_.ReadExact(raw, header_.l1_table_offset);
    const uint64_t used_l1 =
        DivRoundUp(header_.virtual_size, header_.l2_span());
    l1_.assign(used_l1, 0);
    for (uint64_t i = 0; i < used_l1; ++i) {
      const uint64_t off = LoadBe64(&raw[i * 8]) & kOffsetMask;
      if (off % cs_ != 0) {
        Corrupt("a misaligned L2 table");
      }
      l1_[i] = off;
      if (off == 0) {
        continue;
      }
      Ref(off / cs_);
      for (uint64_t e : Table(i)) {
        if (e & kFlagCompressed) {
          const auto [first, end] = CompressedSpan(e);
          for (uint64_t c = first; c < end; ++c) {
            Ref(c);
          }
        } else if ((e & kOffsetMask) != 0) {
          if ((e & kOffsetMask) % cs_ != 0) {
            Corrupt("a misaligned data cluster");
          }
          Ref((e & kOffsetMask) / cs_);
        }
      }
    }
  }

  std::string path_;
  File file_;
  Header header_;
  uint64_t cs_ = 0;
  std::vector<uint64_t> l1_;    // L2 table offsets, 0 for none
  std::vector<uint16_t> refs_;  // per host cluster
  uint64_t next_free_ = 0;
};

// One data cluster to move from the child's file to the parent's.
struct Copy {
  uint64_t from = 0, to = 0, length = 0;
};

// Runs the copies, joining neighbours that are contiguous on both sides.
void RunCopies(std::vector<Copy>& copies,
               const File& child,
               const File& parent,
               MergeStats& stats) {
  std::sort(copies.begin(), copies.end(),
            [](const Copy& a, const Copy& b) { return a.from < b.from; });
  for (size_t i = 0; i < copies.size();) {
    Copy run = copies[i++];
    while (i < copies.size() && copies[i].from == run.from + run.length &&
           copies[i].to == run.to + run.length) {
      run.length += copies[i++].length;
    }
    parent.CopyFrom(child, run.from, run.to, run.length);
    stats.bytes_copied += run.length;
  }
  copies.clear();
}

}  // namespace

MergeStats MergeIntoBacking(const std::string& parent_path,
                            const std::string& child_path,
                            const std::string& passphrase) {
  const Image child(child_path, size_t{4} << 20, passphrase);
  const File child_file = File::OpenReadOnly(child_path);
  // The parent as a reader: its cipher, when it is encrypted.
  const Image parent_view(parent_path, size_t{1} << 20, passphrase);
  const bool reencrypt = child.encrypted() || parent_view.encrypted();
  if (child.encrypted() && !parent_view.encrypted()) {
    throw Error(ErrorKind::kUnsupported,
                child_path + " is encrypted and its backing file " +
                    parent_path +
                    " is not: merging would store its data in the clear");
  }
  if (reencrypt && passphrase.empty()) {
    throw Error(ErrorKind::kDenied,
                "merging " + child_path +
                    " into its backing file needs the repository's key: "
                    "encrypted points are re-encrypted where they move");
  }
  // The child's digests as stored: each cluster that is re-encrypted is
  // checked against its digest first (a damaged one is never sealed anew).
  std::optional<SumsFile> child_sums;
  if (reencrypt && std::filesystem::exists(SumsPath(child_path))) {
    child_sums.emplace(SumsFile::OpenReadOnly(SumsPath(child_path)));
  }
  WritableImage parent(parent_path);
  const Header& ph = parent.header();
  const Header& chh = child.header();
  if (ph.cluster_bits != chh.cluster_bits ||
      ph.virtual_size != chh.virtual_size) {
    throw Error(ErrorKind::kUnsupported,
                child_path +
                    " and its backing file differ in cluster size "
                    "or disk size: they cannot be merged");
  }
  const std::string parent_name =
      parent_path.substr(parent_path.find_last_of('/') + 1);
  if (chh.backing_name != parent_name) {
    throw Error(ErrorKind::kInvalidArgument,
                child_path + " is not backed by " + parent_path);
  }
  const uint64_t cs = parent.cluster_size();
  const uint64_t per_table = cs / 8;
  const uint64_t clusters = DivRoundUp(ph.virtual_size, cs);
  const bool keep_compressed = ph.compression_type == chh.compression_type;
  const uint32_t csize_shift = 62 - (ph.cluster_bits - 8);
  // Zeros hide the parent's backing file; with none, unallocated will do.
  const uint64_t zero_entry = ph.backing_name.empty() ? 0 : kFlagZero;

  MergeStats stats;
  std::vector<ClusterMapping> maps(per_table);
  std::vector<Copy> copies;
  std::vector<std::byte> buffer(cs);
  uint64_t packed_at = 0;  // next free byte in a cluster of compressed data

  for (uint64_t t = 0; t * per_table < clusters; ++t) {
    const uint64_t first = t * per_table;
    if (child.UnmappedSpan(first * cs) != 0) {
      continue;  // the child has no table here
    }
    const size_t n =
        static_cast<size_t>(std::min<uint64_t>(per_table, clusters - first));
    child.LookupRun(first, std::span(maps).first(n));
    if (std::all_of(maps.begin(), maps.begin() + n, [](const auto& m) {
          return m.kind == ClusterMapping::Kind::kUnallocated;
        })) {
      continue;
    }
    std::vector<uint64_t> entries = parent.Table(t);
    for (size_t j = 0; j < n; ++j) {
      const ClusterMapping& m = maps[j];
      if (m.kind == ClusterMapping::Kind::kUnallocated) {
        continue;
      }
      uint64_t& e = entries[j];
      // What the parent held there: a data cluster used only here may be
      // overwritten in place; anything else is released.
      uint64_t in_place = 0;
      if (e & kFlagCompressed) {
        const auto [c0, c1] = parent.CompressedSpan(e);
        for (uint64_t c = c0; c < c1; ++c) {
          parent.Unref(c);
        }
      } else if ((e & kOffsetMask) != 0) {
        const uint64_t c = (e & kOffsetMask) / cs;
        if (m.kind == ClusterMapping::Kind::kData && parent.RefsOf(c) == 1) {
          in_place = c;
        } else {
          parent.Unref(c);
        }
      }
      if (m.kind == ClusterMapping::Kind::kZero) {
        e = zero_entry;
        ++stats.zero_clusters;
        continue;
      }
      if (m.kind == ClusterMapping::Kind::kCompressed && keep_compressed &&
          m.compressed_size <= cs - kSectorSize) {
        const uint64_t used = packed_at % cs;
        if (packed_at == 0 || used == 0 || used + m.compressed_size > cs) {
          packed_at = parent.Allocate() * cs;
        } else {
          parent.Ref(packed_at / cs);
        }
        if (in_place != 0) {
          parent.Unref(in_place);
        }
        copies.push_back({m.host_offset, packed_at, m.compressed_size});
        const uint64_t sectors =
            ((packed_at + m.compressed_size - 1) / kSectorSize) -
            (packed_at / kSectorSize);
        e = kFlagCompressed | (sectors << csize_shift) | packed_at;
        packed_at += m.compressed_size;
        ++stats.compressed_clusters;
        continue;
      }
      const uint64_t to = (in_place != 0 ? in_place : parent.Allocate()) * cs;
      if (reencrypt && m.kind == ClusterMapping::Kind::kData) {
        child.ReadHost(buffer, m.host_offset);
        if (child_sums) {
          const Digest want = child_sums->Get(first + j);
          if (!want.empty() && HashCluster(buffer) != want) {
            throw Error(ErrorKind::kCorrupt,
                        child_path + ": the cluster at guest offset " +
                            std::to_string((first + j) * cs) +
                            " does not match its digest");
          }
        }
        child.Decrypt(buffer, m.host_offset);
        parent_view.Encrypt(buffer, to);
        parent.file().WriteAll(buffer, to);
        stats.stored_digests.emplace_back(first + j, HashCluster(buffer));
        stats.bytes_copied += cs;
      } else if (m.kind == ClusterMapping::Kind::kCompressed) {
        child.ReadCompressed(m, buffer);  // another codec: stored plain
        parent.file().WriteAll(buffer, to);
        stats.bytes_copied += cs;
      } else {
        copies.push_back({m.host_offset, to, cs});
      }
      e = to | kFlagCopied;
      ++stats.data_clusters;
    }
    RunCopies(copies, child_file, parent.file(), stats);
    parent.StoreTable(t, entries);
  }
  stats.freed_clusters = parent.Finish();
  stats.file_bytes = parent.file().AllocatedBytes();
  return stats;
}

}  // namespace sendense::qcow2
