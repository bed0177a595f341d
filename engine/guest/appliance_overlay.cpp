#include "engine/guest/appliance_overlay.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <span>

#include "engine/error.h"
#include "engine/qcow2/image.h"
#include "engine/qcow2/point_writer.h"

namespace sendense::guest {

namespace {
constexpr const char* kLedger = "/var/tmp/sendense-leftovers";
}  // namespace

ApplianceOverlay::ApplianceOverlay(const std::string& backing,
                                   const std::string& backing_format,
                                   uint64_t virtual_size) {
  ReclaimLeftovers(kLedger);  // what killed indexers left
  char dir[] = "/var/tmp/sendense-overlay-XXXXXX";
  if (::mkdtemp(dir) == nullptr) {
    ThrowSystemError("cannot make a folder for the appliance's overlay");
  }
  dir_ = dir;
  note_.emplace(kLedger, dir_);
  path_ = dir_ + "/drive.qcow2";
  try {
    qcow2::PointWriterOptions options;
    options.virtual_size = virtual_size;
    // A filesystem block's worth: a replayed metadata block marks itself,
    // not the file data around it (L1: 4 MiB for a 1 TiB disk).
    options.cluster_bits = 12;
    options.backing_name = backing;  // absolute: the overlay is elsewhere
    options.backing_format = backing_format;
    qcow2::PointWriter writer(path_, options);
    writer.Finish();
    file_ = File::OpenReadOnly(path_);
  } catch (...) {
    Forget();
    throw;
  }
}

ApplianceOverlay::~ApplianceOverlay() {
  Forget();
}

void ApplianceOverlay::Forget() {
  if (!path_.empty()) {
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
    path_.clear();
    note_.reset();
  }
}

std::vector<DiskRange> ApplianceOverlay::Written() const {
  // The file as it is now, through the descriptor (its name may be gone).
  const qcow2::Image image("/proc/self/fd/" + std::to_string(file_.fd()),
                           size_t{1} << 20);
  const uint64_t cluster = image.header().cluster_size();
  const uint64_t clusters =
      (image.header().virtual_size + cluster - 1) / cluster;
  const uint64_t per_table = image.header().l2_entries();
  std::vector<DiskRange> out;
  std::vector<qcow2::ClusterMapping> run;
  const auto& tables = image.l2_offsets();
  for (uint64_t t = 0; t < tables.size(); ++t) {
    if (tables[t] == 0) {
      continue;
    }
    const uint64_t first = t * per_table;
    run.assign(std::min(per_table, clusters - first), {});
    image.LookupRun(first, std::span(run));
    for (uint64_t k = 0; k < run.size(); ++k) {
      if (run[k].kind == qcow2::ClusterMapping::Kind::kUnallocated) {
        continue;
      }
      const uint64_t at = (first + k) * cluster;
      if (!out.empty() && out.back().offset + out.back().length == at) {
        out.back().length += cluster;
      } else {
        out.push_back({at, cluster});
      }
    }
  }
  return out;
}

}  // namespace sendense::guest
