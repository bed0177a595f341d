#include "web/metrics.h"

#include <sys/statvfs.h>

#include <sstream>

#include "engine/io/capacity.h"
#include "engine/repo/capacity_report.h"
#include "engine/repo/vm_status.h"

namespace sendense::web {

Response Metrics(Call& call) {
  ApiContext& ctx = call.ctx;
  std::ostringstream m;
  m << "# HELP sendense_jobs Jobs by state since the daemon started.\n"
    << "# TYPE sendense_jobs gauge\n";
  const auto counts = ctx.jobs.Counts();
  for (JobState state :
       {JobState::kQueued, JobState::kRunning, JobState::kComplete,
        JobState::kFailed, JobState::kCancelled}) {
    const auto it = counts.find(state);
    m << "sendense_jobs{state=\"" << StateName(state) << "\"} "
      << (it == counts.end() ? 0 : it->second) << "\n";
  }
  m << "# HELP sendense_backup_bytes_total Bytes copied by backup jobs.\n"
    << "# TYPE sendense_backup_bytes_total counter\n"
    << "sendense_backup_bytes_total " << ctx.jobs.BytesCopied() << "\n";
  auto db = ctx.catalogs.Acquire();
  const auto backups = db->catalog->Backups("");
  const PointTally tally = TallyPoints(backups);
  m << "# HELP sendense_points_damaged Points verify found damaged or built "
       "on a damaged point.\n"
    << "# TYPE sendense_points_damaged gauge\nsendense_points_damaged "
    << tally.damaged << "\n"
    << "# HELP sendense_points_unverified Points never verified (or with "
       "no digests).\n"
    << "# TYPE sendense_points_unverified gauge\nsendense_points_unverified "
    << tally.unverified << "\n"
    << "# HELP sendense_verify_last_timestamp_seconds When a point was last "
       "verified (0: never).\n"
    << "# TYPE sendense_verify_last_timestamp_seconds gauge\n"
    << "sendense_verify_last_timestamp_seconds " << tally.last_verified << "\n";
  m << "# HELP sendense_backups Complete backups in the repository.\n"
    << "# TYPE sendense_backups gauge\nsendense_backups " << tally.backups
    << "\n"
    << "# HELP sendense_backup_seconds_total Time spent copying disks.\n"
    << "# TYPE sendense_backup_seconds_total counter\n"
    << "sendense_backup_seconds_total " << tally.copy_seconds << "\n";
  m << "# HELP sendense_repository_bytes Bytes the repository uses on "
       "disk.\n"
    << "# TYPE sendense_repository_bytes gauge\n"
    << "sendense_repository_bytes " << ctx.repo.UsedBytes() << "\n";
  if (const auto capacity = MeasureCapacity(ctx.repo, backups);
      capacity.growth_known) {  // absent until a day of backups tells it
    m << "# HELP sendense_repository_growth_bytes_per_day Bytes stored per "
         "day by the last 7 days' backups.\n"
      << "# TYPE sendense_repository_growth_bytes_per_day gauge\n"
      << "sendense_repository_growth_bytes_per_day "
      << capacity.growth_bytes_per_day << "\n";
  }
  struct statvfs st {};
  if (::statvfs(ctx.repo.path().c_str(), &st) == 0) {
    m << "# HELP sendense_filesystem_size_bytes Size of the filesystem "
         "holding the repository.\n"
      << "# TYPE sendense_filesystem_size_bytes gauge\n"
      << "sendense_filesystem_size_bytes "
      << static_cast<uint64_t>(st.f_blocks) * st.f_frsize << "\n"
      << "# HELP sendense_filesystem_free_bytes Free bytes on it.\n"
      << "# TYPE sendense_filesystem_free_bytes gauge\n"
      << "sendense_filesystem_free_bytes " << FreeBytes(ctx.repo.path())
      << "\n";
  }
  m << "# HELP sendense_appliances_running libguestfs appliances running.\n"
    << "# TYPE sendense_appliances_running gauge\n"
    << "sendense_appliances_running " << ctx.appliances.running() << "\n";
  const auto opens = ctx.ns.guest_opens();
  m << "# HELP sendense_guest_file_opens_total Guest files opened, by how "
       "they are read (mapped: straight from the chain by extent map).\n"
    << "# TYPE sendense_guest_file_opens_total counter\n"
    << "sendense_guest_file_opens_total{path=\"mapped\"} " << opens.mapped
    << "\nsendense_guest_file_opens_total{path=\"appliance\"} "
    << opens.appliance << "\n";
  return {200, "text/plain; version=0.0.4", m.str(), {}, 0, nullptr};
}

}  // namespace sendense::web
