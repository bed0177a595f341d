// serve's job runner with hosts: never more backups of a host's VMs at
// once than its limit, never more in all than the runner's workers, and
// hosts taking turns when many backups are due at once. Real backups of
// nbdkit sources that answer each read after a delay.

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "engine/jobs/job_runner.h"
#include "tests/support/backup_fixture.h"

namespace sendense::test {
namespace {

class HostLimitsTest : public BackupFixture {};

TEST_F(HostLimitsTest, AHostsLimitHoldsAndHostsTakeTurns) {
  NbdServer slow(dir_.path(),
                 "nbdkit --exit-with-parent -U {sock} --filter=delay pattern "
                 "1M rdelay=400ms");
  Repository repo(repo_);
  JobRunner runner(repo, JobRunnerOptions{.workers = 3,
                                          .index_guest_files = false,
                                          .prune_after_backup = false});
  // Three VMs without a host keep the workers busy while seventeen more
  // are due at once (twenty in all, as a schedule's minute may bring):
  // six on each of two hosts (two at a time each, submitted host by host),
  // and five more without a host.
  std::vector<int64_t> ids;
  std::map<int64_t, std::string> host_of;
  const auto submit = [&](const std::string& vm, const std::string& host) {
    BackupRequest r;
    r.vm = vm;
    r.disks.push_back(DiskSource::At("sda", slow.uri()));
    r.host = host;
    if (!host.empty()) {
      r.host_max_jobs = 2;
    }
    const auto s = runner.Submit(r);
    ids.push_back(s.id);
    host_of[s.id] = host;
  };
  for (int i = 0; i < 3; ++i) {
    submit("c" + std::to_string(i), "");
  }
  const auto all_running = [&] {
    size_t n = 0;
    for (const auto& j : runner.List()) {
      n += j.state == JobState::kRunning;
    }
    return n == 3;
  };
  for (int i = 0; i < 200 && !all_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(all_running());
  for (int i = 0; i < 6; ++i) {
    submit("a" + std::to_string(i), "kvm1");
  }
  for (int i = 0; i < 6; ++i) {
    submit("b" + std::to_string(i), "kvm2");
  }
  for (int i = 3; i < 8; ++i) {
    submit("c" + std::to_string(i), "");
  }

  std::map<std::string, size_t> most;  // host -> most running at once
  size_t most_in_all = 0;
  std::vector<int64_t> started;  // in the order seen running
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(180);
  while (std::chrono::steady_clock::now() < deadline) {
    std::map<std::string, size_t> running;
    size_t in_all = 0;
    bool active = false;
    for (const auto& j : runner.List()) {
      active |= j.state == JobState::kQueued || j.state == JobState::kRunning;
      if (j.state != JobState::kQueued &&
          std::find(started.begin(), started.end(), j.id) == started.end()) {
        started.push_back(j.id);
      }
      if (j.state == JobState::kRunning) {
        ++running[j.host];
        ++in_all;
        EXPECT_EQ(j.host, host_of[j.id]);
      }
    }
    for (const auto& [h, n] : running) {
      most[h] = std::max(most[h], n);
    }
    most_in_all = std::max(most_in_all, in_all);
    if (!active) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (const auto id : ids) {
    const auto j = runner.Get(id);
    ASSERT_TRUE(j);
    EXPECT_EQ(j->state, JobState::kComplete) << j->vm << ": " << j->error;
  }
  EXPECT_LE(most["kvm1"], 2u);
  EXPECT_LE(most["kvm2"], 2u);
  EXPECT_LE(most_in_all, 3u);
  EXPECT_EQ(most_in_all, 3u) << "the workers were not all used";
  // Once the first three end, the next three to start are one of each
  // of kvm1, kvm2 and the hostless, not kvm1's two first submitted.
  ASSERT_GE(started.size(), 6u);
  std::set<std::string> next_hosts;
  for (size_t i = 3; i < 6; ++i) {
    next_hosts.insert(host_of[started[i]]);
  }
  EXPECT_EQ(next_hosts.size(), 3u) << "hosts did not take turns";
}

}  // namespace
}  // namespace sendense::test
