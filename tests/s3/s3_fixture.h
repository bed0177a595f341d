#pragma once

// The S3 tests' fixture: the suite's gateway (skipped loudly without it),
// a repository with a source disk, a credentials file, and helpers for
// backups, buckets and objects.

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "engine/s3/s3_client.h"
#include "tests/s3/rgw.h"
#include "tests/support/backup_fixture.h"

namespace sendense::test {

class S3Fixture : public BackupFixture {
 protected:
  void SetUp() override {
    rgw_ = Rgw::Load();
    if (!rgw_.why_not.empty()) {
      GTEST_SKIP() << "SKIPPED LOUDLY: " << rgw_.why_not;
    }
    BackupFixture::SetUp();
    credentials_ = rgw_.WriteCredentials(dir_.path());
  }

  // A new bucket (with Object Lock when `lock`) and its client.
  s3::Client Bucket(const std::string& bucket, bool lock) {
    s3::Client c(rgw_.Options(bucket, "site-a"));
    c.CreateBucket(lock);
    return s3::Client(rgw_.Options(bucket, "site-a"));
  }

  std::string Url(const std::string& bucket) const {
    return rgw_.endpoint + "/" + bucket + "/site-a";
  }

  // The object of a local point file has its size and ETag (the MD5 of
  // the file for a single PUT; the multipart form otherwise).
  void ExpectObjectIs(const s3::Client& c, const std::string& relative) {
    const std::string local = repo_ + "/" + relative;
    const auto head = c.Head(relative);
    ASSERT_TRUE(head.has_value()) << relative;
    EXPECT_EQ(head->size, std::filesystem::file_size(local)) << relative;
    if (head->etag.find('-') == std::string::npos) {
      EXPECT_EQ(head->etag + "  " + local + "\n",
                RunOrFail("md5sum " + Quote(local)))
          << relative;
    }
  }

  Rgw rgw_;
  std::string credentials_;
};

}  // namespace sendense::test
