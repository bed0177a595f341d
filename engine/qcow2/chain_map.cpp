#include "engine/qcow2/chain_map.h"

#include <algorithm>

namespace sendense::qcow2 {

ChainMap::ChainMap(const std::vector<std::unique_ptr<Image>>& layers,
                   size_t cache_bytes)
    : layers_(layers) {
  granule_bits_ = 32;
  for (const auto& layer : layers_) {
    granule_bits_ = std::min(granule_bits_, layer->header().cluster_bits);
  }
  cache_.set_capacity(
      std::max<size_t>(2, cache_bytes / (kSpanGranules * sizeof(Entry))));
}

std::shared_ptr<const ChainMap::Span> ChainMap::SpanAt(
    uint64_t span_index) const {
  // Built outside the cache's lock: reads of other spans go on meanwhile.
  return cache_.GetOrLoad(span_index, [&] { return Build(span_index); });
}

std::shared_ptr<const ChainMap::Span> ChainMap::Build(
    uint64_t span_index) const {
  const uint64_t size = layers_.front()->header().virtual_size;
  const uint64_t granule = uint64_t{1} << granule_bits_;
  const uint64_t start = span_index * kSpanGranules * granule;
  const uint64_t end = std::min(size, start + kSpanGranules * granule);
  auto span = std::make_shared<Span>();
  const size_t count =
      static_cast<size_t>((end - start + granule - 1) >> granule_bits_);
  span->entries.resize(count);
  std::vector<bool> resolved(count, false);
  size_t left = count;
  std::vector<ClusterMapping> mappings;

  for (size_t i = 0; i < layers_.size() && left > 0; ++i) {
    const Header& h = layers_[i]->header();
    const uint32_t cbits = h.cluster_bits;
    const uint64_t cs = h.cluster_size();
    const uint64_t layer_end = std::min(end, h.virtual_size);
    uint64_t first_cluster = 0;
    if (start < layer_end) {
      first_cluster = start >> cbits;
      mappings.resize(((layer_end - 1) >> cbits) - first_cluster + 1);
      layers_[i]->LookupRun(first_cluster, mappings);
    }
    for (size_t g = 0; g < count; ++g) {
      if (resolved[g]) {
        continue;
      }
      const uint64_t off = start + (uint64_t{g} << granule_bits_);
      Entry& e = span->entries[g];
      bool done = true;
      if (off >= h.virtual_size) {
        e.where = Where::kZero;  // past this (shorter) backing file
      } else if (off + granule > h.virtual_size && h.virtual_size < size) {
        e.where = Where::kComplex;
      } else {
        const ClusterMapping& m = mappings[(off >> cbits) - first_cluster];
        switch (m.kind) {
          case ClusterMapping::Kind::kUnallocated:
            done = false;
            break;
          case ClusterMapping::Kind::kZero:
            e.where = Where::kZero;
            break;
          case ClusterMapping::Kind::kData:
            e.where = Where::kData;
            e.layer = static_cast<uint16_t>(i);
            e.host = m.host_offset + (off & (cs - 1));
            break;
          case ClusterMapping::Kind::kCompressed:
            e.where = Where::kCompressed;
            e.layer = static_cast<uint16_t>(i);
            e.host = m.host_offset;
            e.compressed_size = static_cast<uint32_t>(m.compressed_size);
            break;
        }
      }
      if (done) {
        resolved[g] = true;
        --left;
      }
    }
  }
  return span;  // what no layer holds stays kHole
}

}  // namespace sendense::qcow2
