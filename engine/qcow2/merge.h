#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/qcow2/cluster_sums.h"

namespace sendense::qcow2 {

struct MergeStats {
  uint64_t data_clusters = 0;  // data clusters written into the parent
  uint64_t compressed_clusters = 0;
  uint64_t zero_clusters = 0;   // clusters the child reads as zeros
  uint64_t bytes_copied = 0;    // data and compressed bytes moved
  uint64_t freed_clusters = 0;  // host clusters returned to the filesystem
  uint64_t file_bytes = 0;      // the parent's allocated bytes after
  // Encrypted images: the clusters written into the parent were
  // re-encrypted (the IV follows the host offset), so their digests as
  // stored are new: (guest cluster, digest), to record over the child's.
  std::vector<std::pair<uint64_t, Digest>> stored_digests;
};

// Writes every cluster that `child` holds (data, compressed or zero) into
// `parent`, its backing file, in place: afterwards `parent` reads exactly
// as `child` does, over `parent`'s own backing file. Renaming `parent`
// over `child` then drops the parent's point from the chain.
//
// Every other view of the chain stays byte-identical throughout: only
// guest clusters that `child` holds change in `parent` (the child's own
// copy wins there in every view above it), and the host clusters of the
// ones it does not hold are never moved, freed or reused. Readers of the
// parent itself see a mix while it runs: the caller hides the parent and
// keeps its readers out first.
//
// Idempotent: run again after a crash at any moment, it gives the same
// result (refcounts are rebuilt from the L2 tables, never trusted).
// Cost follows the child's data, plus one pass over the parent's L2
// tables; never the disk's size. Host clusters that are no longer used are
// punched out of the file, and the refcounts are rewritten so that
// `qemu-img check` finds no leak. Both images must have the same cluster
// size and virtual size (Error kUnsupported otherwise). The parent is
// fsynced before it returns.
//
// Encrypted (LUKS) images, either or both, are merged with `passphrase`
// (Error kDenied before anything is written without it): each cluster is
// decrypted with the child's key and IV and encrypted with the parent's,
// at its new place.
MergeStats MergeIntoBacking(const std::string& parent_path,
                            const std::string& child_path,
                            const std::string& passphrase = "");

}  // namespace sendense::qcow2
