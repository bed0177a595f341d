// The S3 client against a real gateway (Ceph RGW on loopback, started once
// for the suite): objects with Content-MD5 and ETags, multipart uploads
// (parts streamed from a file, listed, aborted), Object Lock refusing a
// locked version's deletion, and each way a gateway says no in one
// sentence.

#include "engine/s3/s3_client.h"

#include <gtest/gtest.h>

#include "engine/error.h"
#include "tests/s3/rgw.h"
#include "tests/support/test_env.h"

namespace sendense::test {
namespace {

class S3ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rgw_ = Rgw::Load();
    if (!rgw_.why_not.empty()) {
      GTEST_SKIP() << "SKIPPED LOUDLY: " << rgw_.why_not;
    }
  }

  // The sentence of the Error `f` throws ("" when it throws none).
  template <typename F>
  static std::string Said(F f, ErrorKind* kind = nullptr) {
    try {
      f();
    } catch (const Error& e) {
      if (kind != nullptr) {
        *kind = e.kind();
      }
      return e.what();
    }
    return "";
  }

  Rgw rgw_;
  TempDir dir_;
};

TEST_F(S3ClientTest, ObjectsAndMultipartUploadsKeepTheirBytes) {
  s3::Client c(rgw_.Options(Rgw::NewBucket("plain"), "site-a"));
  c.CreateBucket(false);
  c.RequireBucket();
  EXPECT_FALSE(c.ObjectLockEnabled());

  const std::string etag = c.Put("vms/web/manifest.json", "{\"a\": 1}\n");
  const auto head = c.Head("vms/web/manifest.json");
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->size, 9u);
  EXPECT_EQ(head->etag, etag);
  EXPECT_EQ(head->etag, "a01637863c1f9585c3e38cde6ce20940");  // md5sum of it
  EXPECT_EQ(c.Get("vms/web/manifest.json"), "{\"a\": 1}\n");
  EXPECT_FALSE(c.Head("vms/web/none").has_value());

  // 12 MiB of random bytes in parts of 5 MiB (the smallest S3 takes).
  const std::string file = dir_ / "disk.qcow2";
  RunOrFail("head -c 12M /dev/urandom > " + Quote(file));
  const std::string id = c.StartUpload("vms/web/vda.qcow2", {});
  ASSERT_EQ(c.Uploads("vms/").size(), 1u);
  EXPECT_EQ(c.Uploads("vms/")[0].id, id);
  std::vector<std::string> etags;
  for (uint64_t off = 0, part = 1; off < (12u << 20); off += 5u << 20) {
    etags.push_back(
        c.PutFileRange("vms/web/vda.qcow2", file, off,
                       std::min<uint64_t>(5u << 20, (12u << 20) - off), {}, id,
                       static_cast<int>(part++)));
  }
  c.CompleteUpload("vms/web/vda.qcow2", id, etags);
  EXPECT_TRUE(c.Uploads("vms/").empty());
  const auto big = c.Head("vms/web/vda.qcow2");
  ASSERT_TRUE(big.has_value());
  EXPECT_EQ(big->size, 12u << 20);
  EXPECT_NE(big->etag.find("-3"), std::string::npos) << big->etag;
  const std::string back = dir_ / "back";
  EXPECT_EQ(c.GetToFile("vms/web/vda.qcow2", back), 12u << 20);
  EXPECT_EQ(RunCommand("cmp " + Quote(file) + " " + Quote(back)).status, 0);

  // An upload left behind is listed until aborted.
  const std::string left = c.StartUpload("vms/web/vdb.qcow2", {});
  c.PutFileRange("vms/web/vdb.qcow2", file, 0, 5u << 20, {}, left, 1);
  ASSERT_EQ(c.Uploads("vms/").size(), 1u);
  c.AbortUpload("vms/web/vdb.qcow2", left);
  EXPECT_TRUE(c.Uploads("vms/").empty());

  const auto listed = c.List("vms/web/");
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].key, "vms/web/manifest.json");
  EXPECT_EQ(listed[1].size, 12u << 20);
  c.Delete("vms/web/manifest.json");
  EXPECT_FALSE(c.Head("vms/web/manifest.json").has_value());
}

TEST_F(S3ClientTest, ObjectLockRefusesDeletingALockedVersion) {
  s3::Client c(rgw_.Options(Rgw::NewBucket("locked")));
  c.CreateBucket(true);
  EXPECT_TRUE(c.ObjectLockEnabled());
  const std::string until = s3::IsoPlusDays("2026-12-06T00:00:00Z", 400);
  c.Put("vms/web/a.qcow2", "locked bytes", {"COMPLIANCE", until});
  const auto head = c.Head("vms/web/a.qcow2");
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->lock.mode, "COMPLIANCE");
  EXPECT_EQ(head->lock.retain_until.substr(0, 19), until.substr(0, 19));
  const auto versions = c.Versions("vms/web/a.qcow2");
  ASSERT_EQ(versions.size(), 1u);
  ErrorKind kind{};
  const std::string said =
      Said([&] { c.Delete("vms/web/a.qcow2", versions[0]); }, &kind);
  EXPECT_EQ(kind, ErrorKind::kDenied) << said;
  EXPECT_NE(said.find("refused the deletion of vms/web/a.qcow2"),
            std::string::npos)
      << said;
  EXPECT_EQ(c.Get("vms/web/a.qcow2"), "locked bytes");
}

TEST_F(S3ClientTest, EachRefusalIsOneSentence) {
  const std::string bucket = Rgw::NewBucket("refusals");
  s3::Client(rgw_.Options(bucket)).CreateBucket(false);
  ErrorKind kind{};

  auto wrong = rgw_.Options(bucket);
  wrong.credentials.secret_key = "not-the-secret";
  std::string said = Said([&] { s3::Client(wrong).RequireBucket(); }, &kind);
  EXPECT_EQ(kind, ErrorKind::kDenied);
  EXPECT_NE(said.find("refused the credentials"), std::string::npos) << said;
  said = Said([&] { s3::Client(wrong).Put("x", "y"); }, &kind);
  EXPECT_EQ(kind, ErrorKind::kDenied);
  EXPECT_NE(said.find("SignatureDoesNotMatch"), std::string::npos) << said;

  said = Said(
      [&] {
        s3::Client(rgw_.Options(Rgw::NewBucket("missing"))).RequireBucket();
      },
      &kind);
  EXPECT_EQ(kind, ErrorKind::kNotFound);
  EXPECT_NE(said.find("does not exist at " + rgw_.endpoint), std::string::npos)
      << said;

  auto down = rgw_.Options(bucket);
  down.location.endpoint = "http://127.0.0.1:9";  // discard: nobody listens
  said = Said([&] { s3::Client(down).RequireBucket(); }, &kind);
  EXPECT_EQ(kind, ErrorKind::kIo);
  EXPECT_NE(said.find("cannot reach S3 at http://127.0.0.1:9"),
            std::string::npos)
      << said;
  EXPECT_EQ(said.find('\n'), std::string::npos) << said;
}

}  // namespace
}  // namespace sendense::test
