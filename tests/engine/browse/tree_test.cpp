// The tree's shape and inode rules, without mounting.

#include "engine/browse/tree.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/time.h"

namespace sendense::browse {
namespace {

BackupRecord Backup(int64_t id,
                    const std::string& vm,
                    const std::string& name,
                    BackupState state = BackupState::kComplete) {
  BackupRecord b;
  b.id = id;
  b.vm = vm;
  b.name = name;
  b.state = state;
  b.finished_at = "2026-11-24T09:00:0" + std::to_string(id % 10) + "Z";
  PointRecord p;
  p.disk = "sda";
  p.kind = PointKind::kFull;
  p.file = "vms/" + vm + "/sda/" + name + ".qcow2";
  p.virtual_size = 1 << 20;
  b.points.push_back(p);
  return b;
}

TEST(TreeTest, ShapeOfPointsAndLatest) {
  Tree tree;
  ASSERT_TRUE(tree.Update(
      {Backup(1, "web", "2026-11-24T09.00.00Z"),
       Backup(2, "web", "2026-11-24T09.00.00Z-2"),
       Backup(3, "web", "2026-11-24T10.00.00Z", BackupState::kFailed),
       Backup(4, "db", "2026-11-24T09.30.00Z")}));
  const auto snap = tree.Current();
  const Node* web = snap->Child(Tree::kRootIno, "web");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->children.size(), 3u);  // two points and latest
  EXPECT_EQ(snap->Child(web->ino, "2026-11-24T10.00.00Z"), nullptr);
  const Node* latest = snap->Child(web->ino, "latest");
  ASSERT_NE(latest, nullptr);
  EXPECT_EQ(latest->content, "2026-11-24T09.00.00Z-2");
  const Node* point = snap->Child(web->ino, "2026-11-24T09.00.00Z");
  const Node* disks = snap->Child(point->ino, "disks");
  const Node* raw = snap->Child(disks->ino, "sda.raw");
  ASSERT_NE(raw, nullptr);
  EXPECT_EQ(raw->size, 1u << 20);
  EXPECT_EQ(raw->kind, Node::Kind::kRawDisk);
  EXPECT_EQ(raw->mtime, ParseIsoTime("2026-11-24T09:00:01Z"));
  EXPECT_TRUE(raw->immutable);
  EXPECT_FALSE(web->immutable);
  const Node* json = snap->Child(point->ino, "backup.json");
  EXPECT_NE(json->content.find("\"name\": \"2026-11-24T09.00.00Z\""),
            std::string::npos);
  EXPECT_EQ(json->size, json->content.size());
}

// backup.json says why files/ is empty, and follows a later index run.
TEST(TreeTest, BackupJsonTellsWhatTheGuestIndexFound) {
  Tree tree;
  const std::vector<BackupRecord> backups = {Backup(1, "web", "a"),
                                             Backup(2, "web", "b")};
  ASSERT_TRUE(
      tree.Update(backups, {}, {{1, IndexRun{"2026-11-24T09:00:05Z", 0, ""}}}));
  auto json_of = [&](const std::string& point) {
    const auto snap = tree.Current();
    const Node* web = snap->Child(Tree::kRootIno, "web");
    const Node* dir = snap->Child(web->ino, point);
    return nlohmann::json::parse(snap->Child(dir->ino, "backup.json")->content);
  };
  EXPECT_EQ(json_of("a")["guest_index"]["state"], "no-filesystems");
  EXPECT_EQ(json_of("b")["guest_index"]["state"], "not-indexed");
  ASSERT_TRUE(tree.Update(
      backups, {},
      {{1, IndexRun{"2026-11-24T09:00:05Z", 0, ""}},
       {2, IndexRun{"2026-11-24T09:01:00Z", 0, "appliance did not start"}}}))
      << "a new run changes the tree";
  EXPECT_EQ(json_of("b")["guest_index"]["state"], "failed");
  EXPECT_EQ(json_of("b")["guest_index"]["error"], "appliance did not start");
}

// A changed record is a new node; the snapshot it replaced is kept, so
// that a kernel still naming the old node can be answered.
TEST(TreeTest, TheSnapshotAnUpdateReplacedIsKept) {
  Tree tree;
  EXPECT_EQ(tree.Previous(), nullptr);
  auto b = Backup(1, "web", "a");
  tree.Update({b});
  const auto first = tree.Current();
  const auto json_of = [](const TreeSnapshot& snap) {
    const Node* web = snap.Child(Tree::kRootIno, "web");
    return snap.Child(snap.Child(web->ino, "a")->ino, "backup.json");
  };
  const uint64_t old_json = json_of(*first)->ino;
  b.points[0].bytes_stored = 4096;  // a prune merged a point into it
  ASSERT_TRUE(tree.Update({b}));
  EXPECT_NE(json_of(*tree.Current())->ino, old_json);
  EXPECT_EQ(tree.Current()->Find(old_json), nullptr);
  ASSERT_EQ(tree.Previous(), first);
  EXPECT_EQ(tree.Previous()->Find(old_json)->content, json_of(*first)->content);
}

TEST(TreeTest, InodesAreStableAndNeverReused) {
  Tree tree;
  tree.Update({Backup(1, "web", "a"), Backup(2, "web", "b")});
  const auto first = tree.Current();
  const uint64_t web = first->Child(Tree::kRootIno, "web")->ino;
  const uint64_t a = first->Child(web, "a")->ino;
  const uint64_t b = first->Child(web, "b")->ino;

  std::vector<std::pair<uint64_t, std::string>> gone;
  EXPECT_FALSE(tree.Update({Backup(1, "web", "a"), Backup(2, "web", "b")}, {},
                           {},
                           &gone));  // nothing changed
  ASSERT_TRUE(tree.Update({Backup(2, "web", "b"), Backup(5, "web", "c")}, {},
                          {}, &gone));
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0], std::make_pair(web, std::string("a")));
  const auto second = tree.Current();
  EXPECT_EQ(second->Child(web, "b")->ino, b);
  EXPECT_EQ(second->Child(web, "a"), nullptr);
  const uint64_t c = second->Child(web, "c")->ino;
  EXPECT_NE(c, a);
  EXPECT_GT(c, b);
  // The old snapshot is untouched for readers that still hold it.
  EXPECT_EQ(first->Child(web, "a")->ino, a);
}

}  // namespace
}  // namespace sendense::browse
