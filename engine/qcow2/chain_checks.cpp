// ChainReader's checked reads: each stored cluster a read returns is
// compared with its layer's digest the first time it is read.
#include <vector>

#include "engine/qcow2/chain_reader.h"

namespace sendense::qcow2 {

bool ChainReader::Checked(const Touched& t) const {
  const LayerDigests& d = *digests_[t.layer];
  const uint64_t bit = uint64_t{1} << (t.cluster % 64);
  return (d.checked[t.cluster / 64].load(std::memory_order_relaxed) & bit) != 0;
}

void ChainReader::CheckClusters(std::span<const std::byte> out,
                                std::span<const Touched> batch) const {
  std::vector<std::byte> whole;
  std::vector<Digest> wants;
  for (size_t i = 0; i < batch.size();) {
    // The digests of a run of clusters of one layer, in one read.
    size_t n = 1;
    while (i + n < batch.size() && batch[i + n].layer == batch[i].layer &&
           batch[i + n].cluster == batch[i].cluster + n) {
      ++n;
    }
    const LayerDigests& d = *digests_[batch[i].layer];
    wants.resize(n);
    d.sums.GetRun(batch[i].cluster, wants);
    for (size_t k = 0; k < n; ++k) {
      const Touched& t = batch[i + k];
      if (Checked(t)) {
        continue;
      }
      if (!wants[k].empty()) {
        const Image& image = *layers_[t.layer];
        const uint64_t cs = image.header().cluster_size();
        std::span<const std::byte> bytes;
        if (t.out_start >= 0 &&
            static_cast<uint64_t>(t.out_start) + cs <= out.size()) {
          bytes = out.subspan(static_cast<size_t>(t.out_start), cs);
        } else {  // only part of it was read: read all of it once
          whole.resize(cs);
          image.ReadHost(whole, t.host);
          bytes = whole;
        }
        if (HashCluster(bytes) != wants[k]) {
          throw DigestMismatch(image.path(), t.cluster * cs, cs);
        }
      }
      d.checked[t.cluster / 64].fetch_or(uint64_t{1} << (t.cluster % 64),
                                         std::memory_order_relaxed);
    }
    i += n;
  }
}

}  // namespace sendense::qcow2
