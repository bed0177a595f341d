#include "engine/qcow2/check.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>

#include "engine/error.h"
#include "engine/qcow2/cluster_sums.h"
#include "engine/qcow2/format.h"
#include "engine/qcow2/image.h"

namespace sendense::qcow2 {
namespace {

// Adds a problem, joining it to the last one when they touch and agree.
void Add(std::vector<Problem>& out,
         uint64_t offset,
         uint64_t length,
         const std::string& what) {
  if (!out.empty() && out.back().what == what && out.back().length != 0 &&
      out.back().offset + out.back().length == offset) {
    out.back().length += length;
    return;
  }
  out.push_back({offset, length, what});
}

// Host cluster uses against the stored reference counts.
void CheckReferences(const Image& image, std::vector<Problem>& out) {
  const Header& h = image.header();
  const uint64_t cs = h.cluster_size();
  std::vector<uint32_t> uses(DivRoundUp(image.file_size(), cs) + 1, 0);
  const auto use = [&](uint64_t offset, uint64_t bytes) {
    for (uint64_t c = offset / cs; c < DivRoundUp(offset + bytes, cs); ++c) {
      if (c >= uses.size()) {
        uses.resize(c + 1, 0);
      }
      ++uses[c];
    }
  };
  use(0, cs);
  use(h.l1_table_offset, uint64_t{h.l1_size} * 8);
  use(h.refcount_table_offset, uint64_t{h.refcount_table_clusters} * cs);
  if (h.crypt_method != 0) {
    use(h.crypto_offset, h.crypto_length);  // the LUKS header
  }
  const uint64_t per_table = h.l2_entries();
  const uint64_t clusters = DivRoundUp(h.virtual_size, cs);
  std::vector<ClusterMapping> maps(per_table);
  for (uint64_t t = 0; t < image.l2_offsets().size(); ++t) {
    if (image.l2_offsets()[t] == 0) {
      continue;
    }
    use(image.l2_offsets()[t], cs);
    const uint64_t first = t * per_table;
    const size_t n =
        static_cast<size_t>(std::min<uint64_t>(per_table, clusters - first));
    try {
      image.LookupRun(first, std::span(maps).first(n));
    } catch (const Error& e) {
      Add(out, first * cs, n * cs, e.what());
      continue;
    }
    for (size_t i = 0; i < n; ++i) {
      if (maps[i].kind == ClusterMapping::Kind::kData) {
        use(maps[i].host_offset, cs);
      } else if (maps[i].kind == ClusterMapping::Kind::kCompressed) {
        const uint64_t start = maps[i].host_offset & ~(kSectorSize - 1);
        use(start, maps[i].host_offset + maps[i].compressed_size - start);
      }
    }
  }
  // The refcount blocks, read from the table.
  std::vector<uint16_t> counts(uses.size(), 0);
  const uint64_t per_block = cs * 8 >> h.refcount_order;
  std::vector<std::byte> raw(cs);
  std::vector<std::byte> table(uint64_t{h.refcount_table_clusters} * cs);
  image.ReadHost(table, h.refcount_table_offset);
  for (uint64_t b = 0; b * 8 < table.size(); ++b) {
    const uint64_t block = LoadBe64(&table[b * 8]) & kOffsetMask;
    if (block == 0 || b * per_block >= uses.size()) {
      continue;
    }
    if (block % cs != 0 || block >= image.file_size()) {
      out.push_back(
          {0, 0,
           "refcount block " + std::to_string(b) + " lies outside the file"});
      continue;
    }
    use(block, cs);
    counts.resize(uses.size(), 0);
    image.ReadHost(raw, block);
    for (uint64_t i = 0; i < per_block && b * per_block + i < counts.size();
         ++i) {
      counts[b * per_block + i] =
          h.refcount_order == 4 ? LoadBe16(&raw[i * 2]) : 1;
    }
  }
  if (h.refcount_order != 4) {
    return;  // uses were checked for overlaps only
  }
  counts.resize(uses.size(), 0);
  for (uint64_t c = 0; c < uses.size(); ++c) {
    if (uses[c] > 1 && uses[c] != counts[c]) {
      out.push_back({0, 0,
                     "host cluster " + std::to_string(c) + " is used " +
                         std::to_string(uses[c]) + " times"});
    } else if (uses[c] != counts[c]) {
      out.push_back({0, 0,
                     "host cluster " + std::to_string(c) +
                         " has reference count " + std::to_string(counts[c]) +
                         " but " + std::to_string(uses[c]) + " uses"});
    }
    if (out.size() > 64) {
      return;  // enough to say the structure is damaged
    }
  }
}

// Every cluster with a digest, read as the image stores it and hashed.
void CheckDigests(const Image& image,
                  const SumsFile& sums,
                  CheckResult& result) {
  const uint64_t cs = image.header().cluster_size();
  const uint64_t clusters = DivRoundUp(image.header().virtual_size, cs);
  const Digest zero = ZeroClusterDigest(cs);
  const bool full = image.header().backing_name.empty();
  // Runs of data clusters stored one after another are read at once.
  struct Pending {
    uint64_t cluster;
    Digest want;
  };
  std::vector<Pending> run;
  uint64_t run_host = 0;
  std::vector<std::byte> buf;
  const auto flush = [&] {
    if (run.empty()) {
      return;
    }
    buf.resize(run.size() * cs);
    image.ReadHost(buf, run_host);
    result.bytes_read += buf.size();
    for (size_t i = 0; i < run.size(); ++i) {
      if (HashCluster(std::span(buf).subspan(i * cs, cs)) != run[i].want) {
        Add(result.problems, run[i].cluster * cs, cs,
            "stored data does not match its digest");
      }
    }
    run.clear();
  };
  std::vector<std::byte> one(cs);
  sums.ForEach([&](uint64_t c, const Digest& want) {
    ++result.clusters_checked;
    if (c >= clusters) {
      Add(result.problems, c * cs, cs, "a digest past the end of the disk");
      return;
    }
    ClusterMapping m;
    try {
      m = image.Lookup(c);
    } catch (const Error& e) {
      flush();
      Add(result.problems, c * cs, cs, "unreadable table");
      return;
    }
    if (m.kind == ClusterMapping::Kind::kData) {
      if (!run.empty() &&
          (run.back().cluster + 1 != c ||
           run_host + run.size() * cs != m.host_offset || run.size() >= 64)) {
        flush();
      }
      if (run.empty()) {
        run_host = m.host_offset;
      }
      run.push_back({c, want});
      return;
    }
    flush();
    Digest got;
    if (m.kind == ClusterMapping::Kind::kCompressed) {
      try {
        image.ReadCompressed(m, one);
        got = HashCluster(one);
      } catch (const Error&) {
        Add(result.problems, c * cs, cs, "compressed data cannot be read");
        return;
      }
    } else if (m.kind == ClusterMapping::Kind::kZero ||
               (full && m.kind == ClusterMapping::Kind::kUnallocated)) {
      got = zero;
    } else {
      Add(result.problems, c * cs, cs, "a stored cluster is missing");
      return;
    }
    if (got != want) {
      Add(result.problems, c * cs, cs, "stored data does not match its digest");
    }
  });
  flush();
}

}  // namespace

CheckResult CheckPoint(const std::string& path) {
  CheckResult result;
  // The digests are opened before the image: a prune renames a merged
  // image over a point before its digests, so digests opened first never
  // name clusters the image opened after them lacks.
  std::optional<SumsFile> sums;
  try {
    sums = SumsFile::OpenReadOnly(SumsPath(path));
    result.has_digests = true;
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kNotFound) {
      result.problems.push_back({0, 0, e.what()});
    }
  }
  std::unique_ptr<Image> image;
  try {
    image = std::make_unique<Image>(path, size_t{8} << 20);
  } catch (const Error& e) {
    result.problems.push_back({0, 0, e.what()});
    return result;
  }
  try {
    CheckReferences(*image, result.problems);
  } catch (const Error& e) {
    result.problems.push_back({0, 0, e.what()});
  }
  if (sums) {
    try {
      CheckDigests(*image, *sums, result);
    } catch (const Error& e) {
      result.problems.push_back({0, 0, e.what()});
    }
  }
  return result;
}

}  // namespace sendense::qcow2
