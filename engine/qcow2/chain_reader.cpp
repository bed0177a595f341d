#include "engine/qcow2/chain_reader.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <set>
#include <utility>

#include "engine/error.h"
#include "engine/qcow2/backing_path.h"
#include "engine/qcow2/format.h"

namespace sendense::qcow2 {

std::unique_ptr<ChainReader> ChainReader::Open(const std::string& path,
                                               const Options& options) {
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) {
    if (errno != ENOENT) {
      ThrowSystemError("cannot open image " + path);  // EACCES, ELOOP, ...
    }
    throw Error(ErrorKind::kNotFound, path + ": no such image", ENOENT);
  }
  std::vector<std::unique_ptr<Image>> layers;
  std::set<std::pair<dev_t, ino_t>> seen;
  std::string current(resolved);
  while (true) {
    struct stat st {};
    if (::stat(current.c_str(), &st) != 0) {
      if (errno != ENOENT) {
        ThrowSystemError("cannot open image " + current);
      }
      throw Error(ErrorKind::kNotFound, current + ": no such image", ENOENT);
    }
    if (!S_ISREG(st.st_mode)) {
      throw Error(ErrorKind::kUnsupported, current + ": not a regular file");
    }
    if (!seen.insert({st.st_dev, st.st_ino}).second) {
      throw Error(ErrorKind::kCorrupt,
                  path + ": backing chain loops back to " + current);
    }
    if (layers.size() >= options.max_depth) {
      throw Error(ErrorKind::kCorrupt, path + ": backing chain deeper than " +
                                           std::to_string(options.max_depth));
    }
    layers.push_back(std::make_unique<Image>(
        current, options.l2_cache_bytes_per_image, options.luks_passphrase));
    const Header& h = layers.back()->header();
    if (h.backing_name.empty()) {
      break;
    }
    if (h.backing_format.empty()) {
      throw Error(ErrorKind::kUnsupported,
                  current +
                      ": the backing format is not recorded "
                      "(refusing to probe it)");
    }
    if (h.backing_format != "qcow2") {
      throw Error(ErrorKind::kUnsupported,
                  current + ": backing format '" + h.backing_format +
                      "' is not supported (only qcow2)");
    }
    current = ResolveBackingPath(current, h.backing_name);
  }
  std::unique_ptr<ChainReader> reader(
      new ChainReader(std::move(layers), options.map_cache_bytes));
  reader->digests_.resize(reader->layers_.size());
  for (size_t i = 0; options.check_digests && i < reader->layers_.size(); ++i) {
    const Image& image = *reader->layers_[i];
    try {
      auto d = std::make_unique<LayerDigests>(LayerDigests{
          SumsFile::OpenReadOnly(SumsPath(image.path())), nullptr, 0});
      d->clusters = DivRoundUp(image.header().virtual_size,
                               image.header().cluster_size());
      d->checked = std::make_unique<std::atomic<uint64_t>[]>(
          DivRoundUp(d->clusters, 64));
      reader->digests_[i] = std::move(d);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kNotFound) {
        throw;
      }  // a point from before digests: read unchecked
    }
  }
  return reader;
}

ChainReader::Segment ChainReader::Resolve(uint64_t offset,
                                          uint64_t max_length) const {
  using Where = ChainMap::Where;
  const uint32_t gbits = map_.granule_bits();
  const uint64_t granule = uint64_t{1} << gbits;
  const uint64_t g = offset >> gbits;
  const auto span = map_.SpanAt(g / ChainMap::kSpanGranules);
  const auto& entries = span->entries;
  size_t i = static_cast<size_t>(g % ChainMap::kSpanGranules);
  const ChainMap::Entry& e = entries[i];
  if (e.where == Where::kComplex) {
    return ResolveByLayers(offset, max_length);
  }
  // Extend over the following granules served the same way: the same
  // kind, and for data the same layer at contiguous host offsets (for a
  // compressed cluster, the same cluster).
  const uint64_t in_granule = offset & (granule - 1);
  uint64_t length = granule - in_granule;
  for (++i; length < max_length && i < entries.size(); ++i) {
    const ChainMap::Entry& next = entries[i];
    bool same = next.where == e.where;
    if (same && e.where == Where::kData) {
      same =
          next.layer == e.layer && next.host == e.host + (length + in_granule);
    } else if (same && e.where == Where::kCompressed) {
      same = next.layer == e.layer && next.host == e.host;
    }
    if (!same) {
      break;
    }
    length += granule;
  }
  Segment seg;
  seg.length = std::min(length, max_length);
  switch (e.where) {
    case Where::kHole:
      seg.kind = ExtentKind::kHole;
      break;
    case Where::kZero:
      seg.kind = ExtentKind::kZero;
      break;
    case Where::kCompressed:
      seg.kind = ExtentKind::kData;
      seg.image = layers_[e.layer].get();
      seg.layer = e.layer;
      seg.mapping = {ClusterMapping::Kind::kCompressed, e.host,
                     e.compressed_size};
      seg.offset_in_cluster = offset & (seg.image->header().cluster_size() - 1);
      break;
    default:
      seg.kind = ExtentKind::kData;
      seg.image = layers_[e.layer].get();
      seg.layer = e.layer;
      seg.mapping = {ClusterMapping::Kind::kData, e.host, 0};
      seg.offset_in_cluster = in_granule;
      break;
  }
  return seg;
}

ChainReader::Segment ChainReader::ResolveByLayers(uint64_t offset,
                                                  uint64_t max_length) const {
  Segment seg;
  seg.length = max_length;
  for (size_t index = 0; index < layers_.size(); ++index) {
    const auto& layer = layers_[index];
    const Header& h = layer->header();
    if (offset >= h.virtual_size) {
      seg.kind = ExtentKind::kZero;  // past a shorter backing file
      return seg;
    }
    seg.length = std::min(seg.length, h.virtual_size - offset);
    if (const uint64_t unmapped = layer->UnmappedSpan(offset)) {
      seg.length = std::min(seg.length, unmapped);
      continue;
    }
    const uint64_t cs = h.cluster_size();
    const uint64_t in_cluster = offset & (cs - 1);
    seg.length = std::min(seg.length, cs - in_cluster);
    const ClusterMapping m = layer->Lookup(offset >> h.cluster_bits);
    switch (m.kind) {
      case ClusterMapping::Kind::kUnallocated:
        continue;
      case ClusterMapping::Kind::kZero:
        seg.kind = ExtentKind::kZero;
        return seg;
      case ClusterMapping::Kind::kData:
      case ClusterMapping::Kind::kCompressed:
        seg.kind = ExtentKind::kData;
        seg.image = layer.get();
        seg.layer = index;
        seg.mapping = m;
        seg.offset_in_cluster = in_cluster;
        return seg;
    }
  }
  seg.kind = ExtentKind::kHole;
  return seg;
}

void ChainReader::CheckRange(uint64_t offset, uint64_t length) const {
  if (offset > size() || length > size() - offset) {
    throw Error(ErrorKind::kInvalidArgument,
                "range past the end of the virtual disk");
  }
}

void ChainReader::Read(std::span<std::byte> out, uint64_t offset) const {
  CheckRange(offset, out.size());
  // Stored clusters not checked yet against their digests (points with
  // digests), checked once the read is done.
  thread_local std::vector<Touched> touched;
  touched.clear();

  // Consecutive segments of one file at consecutive host offsets are
  // gathered into a single pread.
  const Image* pending_image = nullptr;
  uint64_t pending_host = 0;
  size_t pending_pos = 0;
  size_t pending_len = 0;
  auto flush = [&] {
    if (pending_len != 0) {
      pending_image->ReadHost(out.subspan(pending_pos, pending_len),
                              pending_host);
      pending_len = 0;
    }
  };
  thread_local std::vector<std::byte> cluster;

  size_t pos = 0;
  while (pos < out.size()) {
    const Segment seg = Resolve(offset + pos, out.size() - pos);
    auto dst = out.subspan(pos, seg.length);
    const size_t layer = seg.layer;
    if (seg.kind != ExtentKind::kData) {
      std::memset(dst.data(), 0, dst.size());
    } else if (seg.mapping.kind == ClusterMapping::Kind::kCompressed) {
      cluster.resize(seg.image->header().cluster_size());
      seg.image->ReadCompressed(seg.mapping, cluster);
      if (digests_[layer] != nullptr) {
        const uint64_t c = (offset + pos) >> seg.image->header().cluster_bits;
        const Digest want = digests_[layer]->sums.Get(c);
        if (!want.empty() && HashCluster(cluster) != want) {
          throw DigestMismatch(seg.image->path(), c * cluster.size(),
                               cluster.size());
        }
      }
      std::memcpy(dst.data(), cluster.data() + seg.offset_in_cluster,
                  dst.size());
    } else if (seg.image->encrypted()) {
      ReadEncrypted(seg, dst, offset + pos);
    } else {
      const uint64_t host = seg.mapping.host_offset + seg.offset_in_cluster;
      if (digests_[layer] != nullptr) {
        // Every cluster of the segment not checked yet.
        const uint32_t bits = seg.image->header().cluster_bits;
        const uint64_t cs = uint64_t{1} << bits;
        const uint64_t guest = offset + pos;
        for (uint64_t g = guest & ~(cs - 1); g < guest + seg.length; g += cs) {
          const Touched t{
              layer, g >> bits, host - (guest - g),
              static_cast<int64_t>(pos) - static_cast<int64_t>(guest - g)};
          if (!Checked(t)) {
            touched.push_back(t);
          }
        }
      }
      if (pending_image != seg.image || pending_host + pending_len != host ||
          pending_pos + pending_len != pos) {
        flush();
        pending_image = seg.image;
        pending_host = host;
        pending_pos = pos;
      }
      pending_len += seg.length;
    }
    pos += seg.length;
  }
  flush();
  CheckClusters(out, touched);
}

void ChainReader::ReadEncrypted(const Segment& seg,
                                std::span<std::byte> dst,
                                uint64_t offset) const {
  constexpr uint64_t kSector = crypto::kSectorBytes;
  const uint64_t host = seg.mapping.host_offset + seg.offset_in_cluster;
  const uint64_t start = host & ~(kSector - 1);
  const uint64_t end = (host + dst.size() + kSector - 1) & ~(kSector - 1);
  thread_local std::vector<std::byte> raw;
  raw.resize(end - start);
  seg.image->ReadHost(raw, start);
  if (digests_[seg.layer] != nullptr) {
    // Digests are of the stored bytes: checked before decryption.
    std::vector<Touched> batch;
    const uint32_t bits = seg.image->header().cluster_bits;
    const uint64_t cs = uint64_t{1} << bits;
    for (uint64_t g = offset & ~(cs - 1); g < offset + dst.size(); g += cs) {
      const uint64_t cluster_host = host - (offset - g);
      const bool inside = cluster_host >= start && cluster_host + cs <= end;
      const Touched t{seg.layer, g >> bits, cluster_host,
                      inside ? static_cast<int64_t>(cluster_host - start) : -1};
      if (!Checked(t)) {
        batch.push_back(t);
      }
    }
    CheckClusters(raw, batch);
  }
  seg.image->Decrypt(raw, start);
  std::memcpy(dst.data(), raw.data() + (host - start), dst.size());
}

std::vector<Extent> ChainReader::Extents(uint64_t offset,
                                         uint64_t length) const {
  CheckRange(offset, length);
  std::vector<Extent> result;
  uint64_t pos = offset;
  const uint64_t end = offset + length;
  while (pos < end) {
    const Segment seg = Resolve(pos, end - pos);
    if (!result.empty() && result.back().kind == seg.kind) {
      result.back().length += seg.length;
    } else {
      result.push_back({pos, seg.length, seg.kind});
    }
    pos += seg.length;
  }
  return result;
}

}  // namespace sendense::qcow2
