#include "engine/repo/point_digest.h"

#include <filesystem>
#include <vector>

#include "engine/error.h"
#include "engine/qcow2/header.h"

namespace sendense {

std::optional<qcow2::DiskDigest> DerivePointDigest(
    const Repository& repo,
    Catalog& catalog,
    const std::string& file,
    uint64_t virtual_size,
    const std::optional<int64_t>& parent_id) {
  const File image = File::OpenReadOnly(repo.Absolute(file));
  const uint64_t cluster_size =
      qcow2::ReadHeader(image, image.Size(), file).cluster_size();
  std::vector<qcow2::SumsFile> chain;
  std::error_code ec;
  std::string path = repo.Absolute(file);
  std::optional<int64_t> below = parent_id;
  while (true) {
    const std::string sums = qcow2::SumsPath(path);
    if (!std::filesystem::exists(sums, ec)) {
      return std::nullopt;
    }
    chain.push_back(qcow2::SumsFile::OpenReadOnly(sums));
    if (!below) {
      break;
    }
    const auto point = catalog.FindPoint(*below);
    if (!point) {
      throw Error(ErrorKind::kCorrupt,
                  file + ": a point of its chain is missing from the catalog");
    }
    path = repo.Absolute(point->file);
    below = point->parent_id;
  }
  std::vector<qcow2::Digest> parent_groups;
  if (parent_id) {
    parent_groups =
        qcow2::DiskDigest::ParseGroups(catalog.DigestGroups(*parent_id));
  }
  return qcow2::DeriveDiskDigest(virtual_size, cluster_size, chain,
                                 parent_groups);
}

}  // namespace sendense
