// Copies to S3 through the real binary and a real gateway (Ceph RGW on
// loopback): a chain copied, then only a new point; every object's size
// and ETag checked against the local files; Object Lock on every object,
// a locked version's deletion refused by the gateway; kill -9 during
// multipart uploads, then a rerun leaving no upload behind; and each way
// a target is refused, in one sentence, with nothing recorded.

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "engine/error.h"
#include "engine/s3/s3_client.h"
#include "tests/s3/s3_fixture.h"

namespace sendense::test {
namespace {

class S3CopyTest : public S3Fixture {};

TEST_F(S3CopyTest, AChainThenOnlyTheNewPointWithObjectLock) {
  MakeSource();
  const std::string p1 = Backup();
  ChangeSource("-c 'write -q -P 0x44 2M 256k'");
  const std::string p2 = Backup();
  ChangeSource("-c 'write -q -P 0x55 20M 64k'");
  const std::string p3 = Backup();
  const std::string bucket = Rgw::NewBucket("chain");
  const s3::Client c = Bucket(bucket, true);
  auto r =
      Sendense("target add offsite --s3 " + Url(bucket) + " --credentials " +
               Quote(credentials_) + " --lock-days 2 --lock-mode compliance");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto targets = SendenseJson("target list --json")["targets"];
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0]["kind"], "s3");
  EXPECT_EQ(targets[0]["lock_days"], 2);
  EXPECT_EQ(targets[0].dump().find("testsecret"), std::string::npos);

  auto report = SendenseJson("copy --to offsite --json");
  ASSERT_EQ(report["backups"].size(), 3u) << report.dump();
  for (const auto& b : report["backups"]) {
    EXPECT_EQ(b["state"], "copied") << b.dump();
  }
  for (const auto& p : {p1, p2, p3}) {
    ExpectObjectIs(c, "vms/vm1/sda/" + p + ".qcow2");
    ExpectObjectIs(c, "vms/vm1/sda/" + p + ".qcow2.sums");
    const auto manifest =
        nlohmann::json::parse(c.Get("vms/vm1/backups/" + p + ".json"));
    EXPECT_EQ(manifest["backup"], p);
    EXPECT_EQ(manifest["points"][0]["file"], "vms/vm1/sda/" + p + ".qcow2");
    const auto head = c.Head("vms/vm1/sda/" + p + ".qcow2");
    EXPECT_EQ(head->lock.mode, "COMPLIANCE");
  }
  EXPECT_TRUE(nlohmann::json::parse(c.Get("vms/vm1/backups/" + p1 +
                                          ".json"))["points"][0]["parent"]
                  .is_null());
  EXPECT_EQ(nlohmann::json::parse(c.Get("vms/vm1/backups/" + p3 +
                                        ".json"))["points"][0]["parent"],
            p2);
  const auto listed = SendenseJson("list --vm vm1 --json");
  EXPECT_EQ(listed["vms"][0]["backups"][2]["copies"][0], "offsite");

  // Only the new point moves: its bytes and its digests'.
  ChangeSource("-c 'write -q -P 0x66 30M 64k'");
  const std::string p4 = Backup();
  report = SendenseJson("copy --to offsite --json");
  ASSERT_EQ(report["backups"].size(), 1u) << report.dump();
  EXPECT_EQ(report["backups"][0]["backup"], p4);
  const std::string file = repo_ + "/vms/vm1/sda/" + p4 + ".qcow2";
  EXPECT_EQ(report["bytes"].get<uint64_t>(),
            std::filesystem::file_size(file) +
                std::filesystem::file_size(file + ".sums"));
  EXPECT_EQ(SendenseJson("copy --to offsite --json")["backups"].size(), 0u);

  // The gateway keeps a locked version whoever asks.
  const auto versions = c.Versions("vms/vm1/sda/" + p1 + ".qcow2");
  ASSERT_EQ(versions.size(), 1u);
  try {
    c.Delete("vms/vm1/sda/" + p1 + ".qcow2", versions[0]);
    ADD_FAILURE() << "a locked version was deleted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kDenied) << e.what();
  }
  ExpectObjectIs(c, "vms/vm1/sda/" + p1 + ".qcow2");

  // Disaster recovery: a new repository rebuilt from the bucket alone.
  const std::string rebuilt = dir_ / "rebuilt";
  const auto in_rebuilt = [&](const std::string& args) {
    return RunCommand(std::string(SENDENSE_BINARY) + " -r " + Quote(rebuilt) +
                      " " + args);
  };
  ASSERT_EQ(in_rebuilt("init").status, 0);
  ASSERT_EQ(in_rebuilt("target add offsite --s3 " + Url(bucket) +
                       " --credentials " + Quote(credentials_))
                .status,
            0);
  r = in_rebuilt("copy --from offsite --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto back = nlohmann::json::parse(r.output);
  ASSERT_EQ(back["backups"].size(), 4u) << back.dump();
  for (const auto& p : {p1, p2, p3, p4}) {
    const std::string a = repo_ + "/vms/vm1/sda/" + p + ".qcow2";
    const std::string b = rebuilt + "/vms/vm1/sda/" + p + ".qcow2";
    EXPECT_EQ(RunCommand("qemu-img compare -q -f qcow2 -F qcow2 " + Quote(a) +
                         " " + Quote(b))
                  .status,
              0)
        << p;
  }
  r = in_rebuilt("verify");
  EXPECT_EQ(r.status, 0) << r.output;
  const auto kinds = nlohmann::json::parse(
      in_rebuilt("list --vm vm1 --json").output)["vms"][0]["backups"];
  ASSERT_EQ(kinds.size(), 4u);
  EXPECT_EQ(kinds[0]["points"][0]["kind"], "full");
  EXPECT_EQ(kinds[3]["points"][0]["kind"], "incremental");
  r = in_rebuilt("copy --from offsite --json");
  EXPECT_EQ(nlohmann::json::parse(r.output)["backups"].size(), 0u) << r.output;
}

// A point of 160 MiB of data goes in parts of 16 MiB, four at a time; Sendense
// killed at random moments during it, then a run that completes: no
// upload is left (none billing), the object is whole.
TEST_F(S3CopyTest, KilledDuringMultipartUploadsLeavesNoneBehind) {
  RunOrFail("qemu-img create -q -f qcow2 " + Quote(source_) + " 256M");
  RunOrFail("head -c 160M /dev/urandom > " + Quote(dir_ / "random"));
  RunOrFail("qemu-io -f qcow2 -c 'write -q -s " + dir_ / "random" +
            " 0 160M' " + Quote(source_));
  RunOrFail("qemu-img bitmap --add " + Quote(source_) + " b0");
  const std::string p1 = Backup();
  const std::string bucket = Rgw::NewBucket("killed");
  const s3::Client c = Bucket(bucket, false);
  ASSERT_EQ(Sendense("target add offsite --s3 " + Url(bucket) +
                     " --credentials " + Quote(credentials_))
                .status,
            0);
  std::mt19937 random(std::random_device{}());
  int killed_with_uploads = 0;
  for (int i = 0; i < 5; ++i) {
    BackgroundProcess run(std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) +
                          " copy --to offsite");
    std::this_thread::sleep_for(std::chrono::milliseconds(
        std::uniform_int_distribution<int>(200, 1500)(random)));
    killed_with_uploads += !c.Uploads("vms/").empty();
    run.Signal(SIGKILL);
    run.Wait();
  }
  const auto report = SendenseJson("copy --to offsite --json");
  EXPECT_TRUE(c.Uploads("vms/").empty());
  const std::string key = "vms/vm1/sda/" + p1 + ".qcow2";
  const auto head = c.Head(key);
  ASSERT_TRUE(head.has_value()) << report.dump();
  EXPECT_EQ(head->size, std::filesystem::file_size(repo_ + "/" + key));
  const uint64_t parts = (head->size + (16u << 20) - 1) / (16u << 20);
  EXPECT_GE(parts, 10u);
  EXPECT_TRUE(head->etag.ends_with("-" + std::to_string(parts)))
      << head->etag << " for " << head->size << " bytes";
  EXPECT_TRUE(c.Head("vms/vm1/backups/" + p1 + ".json").has_value());
  RunOrFail("curl -sf -o " + Quote(dir_ / "back") + " " +
            Quote(rgw_.endpoint + "/" + bucket + "/site-a/" + key) +
            " --aws-sigv4 aws:amz:us-east-1:s3 --user " +
            Quote(rgw_.access_key + ":" + rgw_.secret_key) +
            " -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD'");
  EXPECT_EQ(
      RunCommand("cmp " + Quote(dir_ / "back") + " " + Quote(repo_ + "/" + key))
          .status,
      0);
  RecordProperty("killed_with_uploads", killed_with_uploads);
}

TEST_F(S3CopyTest, EachRefusedTargetIsOneSentenceAndNothingIsRecorded) {
  MakeSource();
  Backup();
  const std::string plain = Rgw::NewBucket("nolock");
  Bucket(plain, false);
  const auto refused = [&](const std::string& args,
                           const std::string& sentence) {
    SCOPED_TRACE(args);
    const auto r = Sendense("target add t " + args);
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.output.find(sentence), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("testsecret"), std::string::npos) << r.output;
  };
  refused("--s3 " + Url(plain) + " --credentials " +
              Quote(rgw_.WriteCredentials(dir_ / "..", "wrong-secret")),
          "refused the credentials");
  refused("--s3 " + Url(Rgw::NewBucket("absent")) + " --credentials " +
              Quote(credentials_),
          "does not exist at " + rgw_.endpoint);
  refused("--s3 http://127.0.0.1:9/" + plain + " --credentials " +
              Quote(credentials_),
          "cannot reach S3 at http://127.0.0.1:9");
  refused("--s3 " + Url(plain) + " --credentials " + Quote(credentials_) +
              " --lock-days 7 --lock-mode compliance",
          "has no Object Lock, and target t asks for one");
  RunOrFail("chmod 644 " + Quote(credentials_));
  refused("--s3 " + Url(plain) + " --credentials " + Quote(credentials_),
          "can be read by others: chmod 600 it");
  RunOrFail("chmod 600 " + Quote(credentials_));
  EXPECT_EQ(SendenseJson("target list --json")["targets"].size(), 0u);

  // A target whose gateway went away: the copy fails in one sentence and
  // the source records nothing.
  ASSERT_EQ(Sendense("target add t --s3 " + Url(plain) + " --credentials " +
                     Quote(credentials_))
                .status,
            0);
  RunOrFail("sed -i 's/^secret_key = .*/secret_key = changed/' " +
            Quote(credentials_));
  const auto r = Sendense("copy --to t");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("refused the credentials"), std::string::npos)
      << r.output;
  const auto listed = SendenseJson("list --vm vm1 --json");
  EXPECT_TRUE(listed["vms"][0]["backups"][0]["copies"].empty());
}

// The guest file index goes with the backup: a backup of an ext4 disk,
// indexed, copied to the bucket and fetched into a new repository, where
// `find` answers from it without indexing again.
TEST_F(S3CopyTest, TheGuestFileIndexTravelsWithTheBackup) {
  const std::string guest = dir_ / "guest";
  std::filesystem::create_directories(guest + "/etc");
  WriteText(guest + "/etc/motd", "from the bucket\n");
  RunOrFail("mkfs.ext4 -q -d " + Quote(guest) + " " + Quote(dir_ / "fs.raw") +
            " 32M && qemu-img convert -f raw -O qcow2 " +
            Quote(dir_ / "fs.raw") + " " + Quote(source_) +
            " && qemu-img bitmap --add " + Quote(source_) + " b0");
  NbdServer server(dir_.path(), QemuNbdCommand(source_, "b0"));
  const auto b =
      SendenseJson("backup --vm vm1 --disk sda=" + Quote(server.uri()) +
                   " --bitmap b0 --json");
  ASSERT_EQ(b["filesystems"].size(), 1u) << b.dump();
  const std::string bucket = Rgw::NewBucket("index");
  const s3::Client c = Bucket(bucket, false);
  ASSERT_EQ(Sendense("target add offsite --s3 " + Url(bucket) +
                     " --credentials " + Quote(credentials_))
                .status,
            0);
  ASSERT_EQ(Sendense("copy --to offsite").status, 0);
  const auto manifest = nlohmann::json::parse(
      c.Get("vms/vm1/backups/" + b["name"].get<std::string>() + ".json"));
  ASSERT_TRUE(manifest["guest_index"].is_object()) << manifest.dump();

  const std::string rebuilt = dir_ / "rebuilt";
  const std::string in_rebuilt =
      std::string(SENDENSE_BINARY) + " -r " + Quote(rebuilt) + " ";
  RunOrFail(in_rebuilt + "init");
  RunOrFail(in_rebuilt + "target add offsite --s3 " + Url(bucket) +
            " --credentials " + Quote(credentials_));
  RunOrFail(in_rebuilt + "copy --from offsite");
  const auto found = nlohmann::json::parse(
      RunOrFail(in_rebuilt + "find --vm vm1 motd --json"));
  ASSERT_EQ(found["matches"].size(), 1u) << found.dump();
  EXPECT_EQ(found["matches"][0]["path"], "/etc/motd");
}

}  // namespace
}  // namespace sendense::test
