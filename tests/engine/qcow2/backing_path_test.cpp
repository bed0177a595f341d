// Backing file resolution: the rules untrusted images are held to.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/error.h"
#include "engine/qcow2/backing_path.h"
#include "tests/support/test_env.h"

namespace sendense {
namespace {

class BackingPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::filesystem::path dir_(tmp_.path());
    std::filesystem::create_directories(dir_ / "vm");
    std::ofstream(dir_ / "vm" / "base.qcow2") << "x";
    std::ofstream(dir_ / "outside.qcow2") << "x";
    std::filesystem::create_symlink("../outside.qcow2", dir_ / "vm" / "link");
    image_ = std::filesystem::canonical(dir_ / "vm").string() + "/top.qcow2";
  }
  test::TempDir tmp_;
  std::string image_;
};

TEST_F(BackingPathTest, OnlyPlainNamesBesideTheImage) {
  EXPECT_EQ(qcow2::ResolveBackingPath(image_, "base.qcow2"),
            std::filesystem::canonical(tmp_ / "vm/base.qcow2").string());
  for (const char* hostile :
       {"/etc/passwd", "../outside.qcow2", "sub/../../outside.qcow2",
        "json:{\"file.filename\":\"/etc/passwd\"}", "nbd://host/x",
        "file:base.qcow2", "link"}) {
    try {
      qcow2::ResolveBackingPath(image_, hostile);
      ADD_FAILURE() << hostile << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << hostile << ": " << e.what();
    }
  }
  try {
    qcow2::ResolveBackingPath(image_, "missing.qcow2");
    ADD_FAILURE() << "a missing backing file was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
  }
}

}  // namespace
}  // namespace sendense
