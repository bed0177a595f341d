// The catalog on its own: backups through their states, unique names,
// points and chains, owners probed, migrations.

#include "engine/catalog/catalog.h"

#include "engine/catalog/guest_index.h"

#include <gtest/gtest.h>

#include "engine/error.h"
#include "tests/support/test_env.h"

namespace sendense {
namespace {

class CatalogTest : public ::testing::Test {
 protected:
  test::TempDir dir_;
  Catalog catalog_{dir_ / "catalog.db", true};
};

PointRecord Point(const std::string& disk,
                  PointKind kind,
                  const std::string& file) {
  PointRecord p;
  p.disk = disk;
  p.kind = kind;
  p.reason = "test";
  p.file = file;
  p.virtual_size = 1 << 20;
  return p;
}

TEST_F(CatalogTest, BackupsGoFromRunningToCompleteOrFailed) {
  const int64_t vm = catalog_.EnsureVm("web1");
  EXPECT_EQ(catalog_.EnsureVm("web1"), vm) << "one id per name";
  std::string name;
  const int64_t first =
      catalog_.BeginBackup(vm, "2026-12-02T10.00.00Z", "t0", name);
  EXPECT_EQ(name, "2026-12-02T10.00.00Z");
  EXPECT_EQ(catalog_.FindBackup("web1", name)->state, BackupState::kRunning);
  std::vector<PointRecord> points = {
      Point("sda", PointKind::kFull, "vms/web1/sda/a.qcow2")};
  catalog_.CompleteBackup(first, points, "t1");
  const auto done = catalog_.FindBackup("web1", name);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->state, BackupState::kComplete);
  EXPECT_EQ(done->kind(), "full");
  ASSERT_EQ(done->points.size(), 1u);
  EXPECT_EQ(done->points[0].file, "vms/web1/sda/a.qcow2");

  // The same second again gets "-2"; an incremental names its parent.
  std::string second_name;
  const int64_t second =
      catalog_.BeginBackup(vm, "2026-12-02T10.00.00Z", "t2", second_name);
  EXPECT_EQ(second_name, "2026-12-02T10.00.00Z-2");
  auto inc = Point("sda", PointKind::kIncremental, "vms/web1/sda/b.qcow2");
  inc.parent_id = catalog_.LatestPoint(vm, "sda")->id;
  std::vector<PointRecord> inc_points = {inc};
  catalog_.CompleteBackup(second, inc_points, "t3");
  EXPECT_EQ(catalog_.LatestPoint(vm, "sda")->file, "vms/web1/sda/b.qcow2");
  EXPECT_EQ(catalog_.FindBackup("web1", second_name)->kind(), "incremental");

  std::string third_name;
  const int64_t third =
      catalog_.BeginBackup(vm, "2026-12-02T11.00.00Z", "t4", third_name);
  catalog_.FailBackup(third, "the source went away", "t5");
  const auto failed = catalog_.FindBackup("web1", third_name);
  EXPECT_EQ(failed->state, BackupState::kFailed);
  EXPECT_EQ(failed->error, "the source went away");
  EXPECT_EQ(catalog_.LatestPoint(vm, "sda")->file, "vms/web1/sda/b.qcow2")
      << "a failed backup is never a parent";

  const auto all = catalog_.Backups("web1");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].name, name) << "oldest first";
  EXPECT_EQ(catalog_.Backups("nope").size(), 0u);
  EXPECT_EQ(catalog_.PointFiles(vm).size(), 2u);
}

TEST_F(CatalogTest, ARunningBackupWithoutItsOwnerReadsAsInterrupted) {
  const int64_t vm = catalog_.EnsureVm("db1");
  std::string name;
  catalog_.BeginBackup(vm, "2026-12-02T10.00.00Z", "t0", name);
  bool owner_alive = true;
  catalog_.SetOwnerProbe([&](const std::string& v) {
    EXPECT_EQ(v, "db1");
    return owner_alive;
  });
  EXPECT_EQ(catalog_.FindBackup("db1", name)->state, BackupState::kRunning);
  owner_alive = false;
  const auto dead = catalog_.FindBackup("db1", name);
  EXPECT_EQ(dead->state, BackupState::kInterrupted);
  EXPECT_EQ(dead->error, kInterruptedError);
  EXPECT_EQ(catalog_.MarkInterrupted(vm, "t1"), std::vector<std::string>{name});
  EXPECT_TRUE(catalog_.MarkInterrupted(vm, "t2").empty()) << "only once";
  owner_alive = true;  // recorded now: the probe no longer matters
  EXPECT_EQ(catalog_.FindBackup("db1", name)->state, BackupState::kInterrupted);
}

TEST_F(CatalogTest, ReopeningKeepsTheSchemaAndTheData) {
  const int64_t vm = catalog_.EnsureVm("web1");
  std::string name;
  catalog_.BeginBackup(vm, "2026-12-02T10.00.00Z", "t0", name);
  Catalog again(dir_ / "catalog.db", false);
  EXPECT_EQ(again.VmNames(), std::vector<std::string>{"web1"});
  EXPECT_TRUE(again.FindBackup("web1", name).has_value());
  EXPECT_THROW(Catalog(dir_ / "missing.db", false), Error);
}

}  // namespace
}  // namespace sendense

namespace sendense {
namespace {

// Dropping a backup (retention): hidden at once as "dropping", its guest
// index gone so find and history never name it, its point rows dropped
// with the child taking the parent, and the backup row last.
TEST(CatalogDropTest, ADropHidesTheBackupAndItsGuestFilesThenRemovesIt) {
  test::TempDir dir;
  Catalog catalog(dir / "catalog.db", true);
  const int64_t vm = catalog.EnsureVm("web1");
  std::vector<int64_t> ids;
  std::optional<int64_t> parent;
  for (int i = 0; i < 3; ++i) {
    std::string name;
    ids.push_back(catalog.BeginBackup(
        vm, "2026-12-02T10.00.0" + std::to_string(i) + "Z", "t", name));
    PointRecord p;
    p.disk = "sda";
    p.kind = parent ? PointKind::kIncremental : PointKind::kFull;
    p.reason = "test";
    p.file = "vms/web1/sda/" + std::to_string(i) + ".qcow2";
    p.parent_id = parent;
    std::vector<PointRecord> points = {p};
    catalog.CompleteBackup(ids.back(), points, "t");
    parent = points[0].id;
  }
  GuestIndex index(dir / "catalog.db");
  for (const int64_t id : ids) {
    IndexedFilesystem fs;
    fs.fs.name = "sda1";
    fs.fs.device = "/dev/sda1";
    fs.fs.fstype = "ext4";
    fs.fs.state = "indexed";
    GuestEntry root;
    root.mode = 040755;
    root.path = "/";
    GuestEntry motd;
    motd.name = "motd";
    motd.path = "/motd";
    motd.mode = 0100644;
    fs.entries = {root, motd};
    fs.parent_index = {0, 0};
    std::vector<IndexedFilesystem> fss = {fs};
    index.Replace(id, fss);
  }
  ASSERT_EQ(index.History("web1", "/motd").size(), 3u);

  const auto first = catalog.Backups("web1")[0];
  catalog.BeginDrop(first.id);
  EXPECT_EQ(catalog.Backups("web1")[0].state, BackupState::kDropping);
  EXPECT_EQ(index.History("web1", "/motd").size(), 2u);
  EXPECT_EQ(index.Find("web1", "motd", 10).size(), 2u);
  EXPECT_TRUE(index.Filesystems(first.id).empty());
  EXPECT_THROW(catalog.RemoveBackup(first.id), Error) << "it has points";

  auto child = catalog.ChildOf(first.points[0].id);
  ASSERT_TRUE(child.has_value());
  child->kind = PointKind::kFull;
  catalog.DropPoint(first.points[0], child);
  catalog.RemoveBackup(first.id);
  const auto left = catalog.Backups("web1");
  ASSERT_EQ(left.size(), 2u);
  EXPECT_FALSE(left[0].points[0].parent_id.has_value());
  EXPECT_EQ(left[0].points[0].kind, PointKind::kFull);
  EXPECT_EQ(left[1].points[0].parent_id, left[0].points[0].id);
  // Only a complete (or already dropping) backup can be dropped.
  std::string name;
  const int64_t running = catalog.BeginBackup(vm, "x", "t", name);
  EXPECT_THROW(catalog.BeginDrop(running), Error);
}

}  // namespace
}  // namespace sendense
