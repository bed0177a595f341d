#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/qcow2/cluster_sums.h"

namespace sendense::qcow2 {

// A disk's whole-content digest, Merkle-style: the leaves are the digests of
// the disk's clusters as a point presents them (the newest layer's digest,
// or the digest of zeros where no layer holds the cluster); each group of
// kLeavesPerGroup leaves hashes to a group digest; the root hashes the
// disk's size, the cluster size and the group digests. A new point derives
// its digest from its parent's groups: only the groups holding a cluster it
// stores are recomputed, from the digest files (never the data) of its
// chain. Two points with the same root present the same bytes.
constexpr uint64_t kLeavesPerGroup = 16384;  // 1 GiB of 64 KiB clusters

struct DiskDigest {
  Digest root;
  std::vector<Digest> groups;

  // "xxh3-128:" and 32 hex digits, as records show it.
  std::string RootText() const;
  // The groups as hex, as the catalog keeps them ("" for none).
  std::string GroupsText() const;
  static std::vector<Digest> ParseGroups(const std::string& text);
};

// `chain`: the digest files of the point and of every point below it,
// newest first. `parent_groups`: the parent's recorded groups (empty for a
// full, or when unknown: then every group is derived from the chain).
DiskDigest DeriveDiskDigest(uint64_t virtual_size,
                            uint64_t cluster_size,
                            std::span<const SumsFile> chain,
                            std::span<const Digest> parent_groups);

}  // namespace sendense::qcow2
