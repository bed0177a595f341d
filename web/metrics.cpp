#include "web/metrics.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <utility>

#include "engine/catalog/hosts.h"
#include "engine/catalog/record_json.h"
#include "engine/io/capacity.h"
#include "engine/repo/capacity_report.h"
#include "engine/repo/known_vms.h"
#include "engine/repo/tenant_usage.h"
#include "engine/repo/vm_status.h"
#include "web/backups_api.h"

namespace sendense::web {
namespace {

// Each tenant's usage and limits the caller may see, labelled by tenant.
void TenantSeries(Call& call, std::ostringstream& m) {
  auto& db = call.db();
  const auto usage = MeasureTenants(call.ctx.repo, *db.accounts,
                                    KnownVms(*db.catalog, *db.vms));
  m << "# HELP sendense_tenant_used_bytes Bytes a tenant's VMs use.\n"
    << "# TYPE sendense_tenant_used_bytes gauge\n";
  for (const auto& u : usage) {
    if (call.who.tenant.empty() || call.who.tenant == u.tenant.name) {
      m << "sendense_tenant_used_bytes{tenant=\"" << u.tenant.name << "\"} "
        << u.used_bytes << "\n";
    }
  }
  m << "# HELP sendense_tenant_quota_bytes A tenant's quota (none: "
       "absent).\n"
    << "# TYPE sendense_tenant_quota_bytes gauge\n";
  for (const auto& u : usage) {
    if ((call.who.tenant.empty() || call.who.tenant == u.tenant.name) &&
        u.tenant.quota_bytes) {
      m << "sendense_tenant_quota_bytes{tenant=\"" << u.tenant.name << "\"} "
        << *u.tenant.quota_bytes << "\n";
    }
  }
}

// Each host's backup jobs queued and running, every host listed (hosts
// are the appliance's: tenants' callers get none).
void HostSeries(Call& call, std::ostringstream& m) {
  if (!call.who.tenant.empty()) {
    return;
  }
  std::map<std::string, std::pair<size_t, size_t>> jobs;  // queued, running
  for (const auto& h : Hosts(call.ctx.repo.CatalogPath()).List()) {
    jobs[h.name];
  }
  for (const auto& j : call.ctx.jobs.List()) {
    if (!j.host.empty()) {
      jobs[j.host].first += j.state == JobState::kQueued ? 1 : 0;
      jobs[j.host].second += j.state == JobState::kRunning ? 1 : 0;
    }
  }
  m << "# HELP sendense_host_jobs Backup jobs of a host's VMs, queued and "
       "running.\n"
    << "# TYPE sendense_host_jobs gauge\n";
  for (const auto& [host, n] : jobs) {
    m << "sendense_host_jobs{host=\"" << host << "\",state=\"queued\"} "
      << n.first << "\n"
      << "sendense_host_jobs{host=\"" << host << "\",state=\"running\"} "
      << n.second << "\n";
  }
}

}  // namespace

Response Metrics(Call& call) {
  ApiContext& ctx = call.ctx;
  std::ostringstream m;
  m << "# HELP sendense_jobs Jobs by state since the daemon started.\n"
    << "# TYPE sendense_jobs gauge\n";
  // An appliance caller counts every job since the daemon started; a
  // tenant's, the jobs of its VMs the runner remembers.
  auto counts = ctx.jobs.Counts();
  if (!call.who.tenant.empty()) {
    counts.clear();
    for (const auto& j : ctx.jobs.List()) {
      counts[j.state] += call.Sees(j.vm) ? 1 : 0;
    }
  }
  for (JobState state :
       {JobState::kQueued, JobState::kRunning, JobState::kComplete,
        JobState::kFailed, JobState::kCancelled}) {
    const auto it = counts.find(state);
    m << "sendense_jobs{state=\"" << StateName(state) << "\"} "
      << (it == counts.end() ? 0 : it->second) << "\n";
  }
  const auto backups = VisibleBackups(call);
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
  const auto suspicious =
      std::count_if(backups.begin(), backups.end(), IsSuspicious);
  m << "# HELP sendense_points_suspicious Backups whose guest files changed "
       "like a mass encryption, not reviewed yet.\n"
    << "# TYPE sendense_points_suspicious gauge\nsendense_points_suspicious "
    << suspicious << "\n";
  m << "# HELP sendense_backups Complete backups in the repository.\n"
    << "# TYPE sendense_backups gauge\nsendense_backups " << tally.backups
    << "\n"
    << "# HELP sendense_backup_seconds_total Time spent copying disks.\n"
    << "# TYPE sendense_backup_seconds_total counter\n"
    << "sendense_backup_seconds_total " << tally.copy_seconds << "\n";
  TenantSeries(call, m);
  HostSeries(call, m);
  if (!call.who.tenant.empty()) {
    return {200, "text/plain; version=0.0.4", m.str(), {}, 0, nullptr};
  }
  // The appliance's own figures, for its callers only.
  m << "# HELP sendense_backup_bytes_total Bytes copied by backup jobs.\n"
    << "# TYPE sendense_backup_bytes_total counter\n"
    << "sendense_backup_bytes_total " << ctx.jobs.BytesCopied() << "\n";
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
