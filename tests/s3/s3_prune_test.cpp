// A bucket pruned by its target's own policy through the real binary and
// the suite's gateway: chains cut by --full-every, only whole chains
// deleted (every version), what is left still rebuilds a repository; a
// forget refused in one sentence where it would break a chain or the lock
// holds; nothing under Object Lock is tried before its date.

#include <filesystem>
#include <set>

#include "engine/s3/s3_client.h"
#include "tests/s3/s3_fixture.h"

namespace sendense::test {
namespace {

class S3PruneTest : public S3Fixture {
 protected:
  // Five backups of the source, each with a change.
  std::vector<std::string> FiveBackups() {
    MakeSource();
    std::vector<std::string> names{Backup()};
    for (int i = 1; i < 5; ++i) {
      ChangeSource("-c 'write -q -P " + std::to_string(0x40 + i) + " " +
                   std::to_string(4 * i) + "M 128k'");
      names.push_back(Backup());
    }
    return names;
  }

  // The backups whose objects (any version) the bucket holds.
  static std::set<std::string> InBucket(const s3::Client& c,
                                        const std::vector<std::string>& names) {
    std::set<std::string> out;
    for (const auto& v : c.ListVersions("vms/vm1/")) {
      for (const auto& n : names) {
        if (v.key.find(n) != std::string::npos) {
          out.insert(n);
        }
      }
    }
    return out;
  }
};

TEST_F(S3PruneTest, OnlyWholeChainsGoAndWhatStaysStillRebuilds) {
  const auto p = FiveBackups();
  const std::string bucket = Rgw::NewBucket("prune");
  const s3::Client c = Bucket(bucket, false);
  auto r =
      Sendense("target add offsite --s3 " + Url(bucket) + " --credentials " +
               Quote(credentials_) + " --full-every 2 --keep-last 2");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto target = SendenseJson("target list --json")["targets"][0];
  EXPECT_EQ(target["full_every"], 2);
  EXPECT_EQ(target["retention"]["keep_last"], 2);

  // Chains of at most two points: p1 p2 | p3 p4 | p5.
  const auto copied = SendenseJson("copy --to offsite --json")["backups"];
  ASSERT_EQ(copied.size(), 5u) << copied.dump();
  const std::vector<std::string> how{"as stored", "as stored", "flattened",
                                     "as stored", "flattened"};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(copied[i]["points"][0]["how"], how[i]) << copied.dump();
  }
  const auto manifest = [&](const std::string& b) {
    return nlohmann::json::parse(c.Get("vms/vm1/backups/" + b + ".json"));
  };
  EXPECT_EQ(manifest(p[2])["points"][0]["kind"], "full");
  EXPECT_TRUE(manifest(p[2])["points"][0]["parent"].is_null());
  EXPECT_EQ(manifest(p[3])["points"][0]["parent"], p[2]);
  EXPECT_EQ(manifest(p[3])["points"][0]["depth"], 1);
  // A standalone QCOW2: no backing file in the bucket's p3.
  const std::string whole = dir_ / "p3.qcow2";
  c.GetToFile("vms/vm1/sda/" + p[2] + ".qcow2", whole);
  EXPECT_EQ(RunOrFail("qemu-img info -f qcow2 --output=json " + Quote(whole))
                .find("backing-filename"),
            std::string::npos);

  // What a killed copy could leave: an object no manifest names.
  c.Put("vms/vm1/sda/leftover.qcow2", "half a point");

  // The dry run says why p3 stays (p4 builds on it) and deletes nothing.
  auto dry = SendenseJson("prune --target offsite --dry-run --json")["prunes"];
  ASSERT_EQ(dry.size(), 1u);
  const auto& points = dry[0]["points"];
  ASSERT_EQ(points.size(), 5u) << dry.dump();
  EXPECT_EQ(points[2]["name"], p[2]);
  EXPECT_EQ(points[2]["action"], "keep");
  EXPECT_EQ(points[2]["reasons"][0], "a kept point builds on it");
  EXPECT_EQ(points[3]["action"], "drop");
  EXPECT_EQ(points[4]["action"], "drop");
  EXPECT_EQ(InBucket(c, p).size(), 5u);

  const auto pruned = SendenseJson("prune --target offsite --json")["prunes"];
  EXPECT_EQ(pruned[0]["dropped"], nlohmann::json({p[0], p[1]}));
  EXPECT_GT(pruned[0]["freed_bytes"].get<uint64_t>(), 0u);
  EXPECT_EQ(InBucket(c, p), (std::set<std::string>{p[2], p[3], p[4]}));
  EXPECT_FALSE(c.Head("vms/vm1/sda/leftover.qcow2").has_value());
  EXPECT_TRUE(c.Uploads("vms/").empty());
  r = Sendense("verify --target offsite");
  EXPECT_EQ(r.status, 0) << r.output;

  // A forget that would break a chain, or take the newest: one sentence,
  // nothing deleted.
  r = Sendense("forget --target offsite --vm vm1 " + p[2]);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("builds on '" + p[2] + "'"), std::string::npos)
      << r.output;
  r = Sendense("forget --target offsite --vm vm1 " + p[4]);
  EXPECT_NE(r.output.find("the next copy builds on it"), std::string::npos)
      << r.output;
  EXPECT_EQ(InBucket(c, p).size(), 3u);

  // What stays rebuilds a repository: p3, whole in the bucket, equals the
  // incremental chain it was read from.
  const std::string rebuilt = dir_ / "rebuilt";
  const std::string in_rebuilt =
      std::string(SENDENSE_BINARY) + " -r " + Quote(rebuilt) + " ";
  RunOrFail(in_rebuilt + "init");
  RunOrFail(in_rebuilt + "target add offsite --s3 " + Url(bucket) +
            " --credentials " + Quote(credentials_));
  RunOrFail(in_rebuilt + "copy --from offsite");
  for (size_t i = 2; i < 5; ++i) {
    const std::string file = "/vms/vm1/sda/" + p[i] + ".qcow2";
    EXPECT_EQ(RunCommand("qemu-img compare -q -f qcow2 -F qcow2 " +
                         Quote(repo_ + file) + " " + Quote(rebuilt + file))
                  .status,
              0)
        << p[i];
  }
  EXPECT_EQ(RunCommand(in_rebuilt + "verify").status, 0);

  // The chain p3 p4 goes whole once p4 is no longer needed.
  r = Sendense("forget --target offsite --vm vm1 " + p[3]);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(InBucket(c, p), (std::set<std::string>{p[2], p[4]}));
}

TEST_F(S3PruneTest, NothingUnderObjectLockIsTriedBeforeItsDate) {
  const auto p = FiveBackups();
  const std::string bucket = Rgw::NewBucket("locked");
  const s3::Client c = Bucket(bucket, true);
  ASSERT_EQ(Sendense("target add offsite --s3 " + Url(bucket) +
                     " --credentials " + Quote(credentials_) +
                     " --lock-days 1 --lock-mode governance --full-every 1")
                .status,
            0);
  ASSERT_EQ(Sendense("copy --to offsite").status, 0);
  // Without a policy: one sentence.
  auto r = Sendense("prune --target offsite");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("target offsite has no retention policy"),
            std::string::npos)
      << r.output;
  r = Sendense("target set offsite --keep-last 1");
  ASSERT_EQ(r.status, 0) << r.output;
  // Every point is whole (--full-every 1): only the lock keeps them.
  const auto pruned = SendenseJson("prune --target offsite --json")["prunes"];
  ASSERT_EQ(pruned.size(), 1u);
  EXPECT_TRUE(pruned[0]["dropped"].empty()) << pruned.dump();
  for (size_t i = 1; i < 5; ++i) {
    const auto& d = pruned[0]["points"][i];
    EXPECT_EQ(d["action"], "keep");
    EXPECT_EQ(d["reasons"][0].get<std::string>().rfind("locked until ", 0), 0u)
        << d.dump();
  }
  r = Sendense("forget --target offsite --vm vm1 " + p[0]);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("is under Object Lock until"), std::string::npos)
      << r.output;
  EXPECT_EQ(InBucket(c, p).size(), 5u);
  EXPECT_EQ(c.Versions("vms/vm1/sda/" + p[0] + ".qcow2").size(), 1u);
}

}  // namespace
}  // namespace sendense::test
