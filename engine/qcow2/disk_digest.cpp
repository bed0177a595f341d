#include "engine/qcow2/disk_digest.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "engine/error.h"
#include "engine/qcow2/format.h"

namespace sendense::qcow2 {
namespace {

constexpr char kPrefix[] = "xxh3-128:";

std::string Hex(const Digest& d) {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx",
                static_cast<unsigned long long>(d.high),
                static_cast<unsigned long long>(d.low));
  return buf;
}

Digest HashDigests(std::span<const Digest> digests,
                   std::span<const uint64_t> header = {}) {
  std::vector<std::byte> raw((header.size() + 2 * digests.size()) * 8);
  std::byte* p = raw.data();
  for (const uint64_t h : header) {
    StoreBe64(p, h);
    p += 8;
  }
  for (const Digest& d : digests) {
    StoreBe64(p, d.high);
    StoreBe64(p + 8, d.low);
    p += 16;
  }
  return HashCluster(raw);
}

}  // namespace

std::string DiskDigest::RootText() const {
  return kPrefix + Hex(root);
}

std::string DiskDigest::GroupsText() const {
  std::string text;
  text.reserve(groups.size() * 32);
  for (const Digest& g : groups) {
    text += Hex(g);
  }
  return text;
}

std::vector<Digest> DiskDigest::ParseGroups(const std::string& text) {
  std::vector<Digest> groups;
  if (text.size() % 32 != 0) {
    throw Error(ErrorKind::kCorrupt, "a disk digest record is malformed");
  }
  for (size_t i = 0; i < text.size(); i += 32) {
    Digest d;
    try {
      d.high = std::stoull(text.substr(i, 16), nullptr, 16);
      d.low = std::stoull(text.substr(i + 16, 16), nullptr, 16);
    } catch (const std::exception&) {
      throw Error(ErrorKind::kCorrupt, "a disk digest record is malformed");
    }
    groups.push_back(d);
  }
  return groups;
}

DiskDigest DeriveDiskDigest(uint64_t virtual_size,
                            uint64_t cluster_size,
                            std::span<const SumsFile> chain,
                            std::span<const Digest> parent_groups) {
  const uint64_t clusters = (virtual_size + cluster_size - 1) / cluster_size;
  const uint64_t n_groups = (clusters + kLeavesPerGroup - 1) / kLeavesPerGroup;
  DiskDigest out;
  out.groups.resize(n_groups);
  std::set<uint64_t> changed;
  if (parent_groups.size() == n_groups && !chain.empty()) {
    std::copy(parent_groups.begin(), parent_groups.end(), out.groups.begin());
    chain.front().ForEach([&](uint64_t cluster, const Digest&) {
      changed.insert(cluster / kLeavesPerGroup);
    });
  } else {
    for (uint64_t g = 0; g < n_groups; ++g) {
      changed.insert(g);
    }
  }
  const Digest zero = ZeroClusterDigest(cluster_size);
  std::vector<Digest> leaves(kLeavesPerGroup);
  std::vector<Digest> layer(kLeavesPerGroup);
  for (const uint64_t g : changed) {
    if (g >= n_groups) {
      continue;  // a digest beyond the disk: verify reports the file
    }
    const uint64_t first = g * kLeavesPerGroup;
    const size_t n =
        static_cast<size_t>(std::min(kLeavesPerGroup, clusters - first));
    std::fill_n(leaves.begin(), n, Digest{});
    size_t missing = n;
    for (const SumsFile& sums : chain) {
      sums.GetRun(first, std::span(layer).first(n));
      for (size_t i = 0; i < n; ++i) {
        if (leaves[i].empty() && !layer[i].empty()) {
          leaves[i] = layer[i];
          --missing;
        }
      }
      if (missing == 0) {
        break;
      }
    }
    for (size_t i = 0; i < n; ++i) {
      if (leaves[i].empty()) {
        leaves[i] = zero;
      }
    }
    out.groups[g] = HashDigests(std::span(leaves).first(n));
  }
  const uint64_t header[] = {virtual_size, cluster_size};
  out.root = HashDigests(out.groups, header);
  return out;
}

}  // namespace sendense::qcow2
