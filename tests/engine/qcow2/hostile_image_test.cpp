// Hostile images: each is rejected with one clear error before any of its
// data is read, and nothing outside the image's directory is ever opened.

#include <gtest/gtest.h>

#include <filesystem>

#include "engine/error.h"
#include "engine/qcow2/chain_reader.h"
#include "engine/qcow2/point_writer.h"
#include "tests/support/test_env.h"

namespace sendense::qcow2 {
namespace {

using test::Quote;
using test::RunOrFail;

class HostileImageTest : public testing::Test {
 protected:
  // A valid 1 MiB image with data in its first cluster.
  std::string MakeImage(const std::string& name,
                        const std::string& create_options = "") {
    const std::string path = dir_ / name;
    RunOrFail(
        "qemu-img create -q -f qcow2 " + create_options + " " + Quote(path) +
        " 1M && qemu-io -f qcow2 -c 'write -q -P 1 0 64k' " + Quote(path));
    return path;
  }
  // An image whose header names `backing` (not checked by qemu: -u).
  std::string MakeOverlay(const std::string& name,
                          const std::string& backing,
                          const std::string& format = "qcow2") {
    const std::string path = dir_ / name;
    RunOrFail("qemu-img create -q -f qcow2 -u -b " + Quote(backing) + " -F " +
              format + " " + Quote(path) + " 1M");
    return path;
  }
  std::string Real(const std::string& path) {
    return std::filesystem::canonical(path).string();
  }
  // Opens `path` (and reads it all) expecting Error `kind` with `message`.
  void ExpectError(const std::string& path,
                   ErrorKind kind,
                   const std::string& message) {
    try {
      auto reader = ChainReader::Open(path);
      std::vector<std::byte> all(reader->size());
      reader->Read(all, 0);
      ADD_FAILURE() << path << " was accepted; expected: " << message;
    } catch (const Error& e) {
      EXPECT_EQ(e.what(), message);
      EXPECT_EQ(static_cast<int>(e.kind()), static_cast<int>(kind)) << e.what();
    }
  }

  test::TempDir dir_;
};

TEST_F(HostileImageTest, AbsoluteBackingName) {
  const auto top = MakeOverlay("top.qcow2", "/etc/passwd");
  ExpectError(top, ErrorKind::kCorrupt,
              Real(top) +
                  ": refusing backing file '/etc/passwd': absolute names are "
                  "not allowed");
}

TEST_F(HostileImageTest, DotDotBackingName) {
  const auto top = MakeOverlay("top.qcow2", "sub/../../base.qcow2");
  ExpectError(top, ErrorKind::kCorrupt,
              Real(top) +
                  ": refusing backing file 'sub/../../base.qcow2': '..' "
                  "leaves the image's directory");
}

TEST_F(HostileImageTest, JsonBackingName) {
  const std::string json = R"(json:{"file.filename":"/etc/shadow"})";
  const auto top = MakeOverlay("top.qcow2", json);
  ExpectError(top, ErrorKind::kCorrupt,
              Real(top) + ": refusing backing file '" + json +
                  "': json: names are not allowed");
}

TEST_F(HostileImageTest, ProtocolBackingName) {
  const auto top = MakeOverlay("top.qcow2", "nbd://127.0.0.1/export");
  ExpectError(top, ErrorKind::kCorrupt,
              Real(top) +
                  ": refusing backing file 'nbd://127.0.0.1/export': protocol "
                  "names are not allowed");
  const auto file = MakeOverlay("file.qcow2", "file:base.qcow2");
  ExpectError(file, ErrorKind::kCorrupt,
              Real(file) +
                  ": refusing backing file 'file:base.qcow2': protocol names "
                  "are not allowed");
}

TEST_F(HostileImageTest, SymlinkOutOfTheDirectory) {
  MakeImage("outside.qcow2");
  std::filesystem::create_directory(dir_ / "inner");
  std::filesystem::create_symlink("../outside.qcow2",
                                  dir_ / "inner/link.qcow2");
  const auto top = MakeOverlay("inner/top.qcow2", "link.qcow2");
  ExpectError(top, ErrorKind::kCorrupt,
              Real(top) +
                  ": refusing backing file 'link.qcow2': it resolves outside "
                  "the image's directory");
}

TEST_F(HostileImageTest, BackingLoop) {
  const auto a = MakeOverlay("a.qcow2", "b.qcow2");
  MakeOverlay("b.qcow2", "a.qcow2");
  ExpectError(a, ErrorKind::kCorrupt,
              a + ": backing chain loops back to " + Real(a));
  const auto self = MakeOverlay("self.qcow2", "self.qcow2");
  ExpectError(self, ErrorKind::kCorrupt,
              self + ": backing chain loops back to " + Real(self));
}

TEST_F(HostileImageTest, MissingBackingFile) {
  const auto top = MakeOverlay("top.qcow2", "gone.qcow2");
  ExpectError(top, ErrorKind::kNotFound,
              Real(top) + ": backing file 'gone.qcow2' does not exist");
}

TEST_F(HostileImageTest, BackingFormatNotRecorded) {
  MakeImage("base.qcow2");
  PointWriterOptions options;
  options.virtual_size = 1 << 20;
  options.backing_name = "base.qcow2";
  options.backing_format = "";  // no backing format extension
  PointWriter(dir_ / "top.qcow2", options).Finish();
  ExpectError(dir_ / "top.qcow2", ErrorKind::kUnsupported,
              Real(dir_ / "top.qcow2") +
                  ": the backing format is not recorded (refusing to probe "
                  "it)");
}

TEST_F(HostileImageTest, RawBackingFormat) {
  RunOrFail("truncate -s 1M " + Quote(dir_ / "base.raw"));
  const auto top = MakeOverlay("top.qcow2", "base.raw", "raw");
  ExpectError(
      top, ErrorKind::kUnsupported,
      Real(top) + ": backing format 'raw' is not supported (only qcow2)");
}

TEST_F(HostileImageTest, ExternalDataFile) {
  const auto path = dir_ / "ext.qcow2";
  RunOrFail("qemu-img create -q -f qcow2 -o data_file=" +
            Quote(dir_ / "ext.raw") + " " + Quote(path) + " 1M");
  ExpectError(
      path, ErrorKind::kUnsupported,
      Real(path) + ": unsupported QCOW2 image: it uses an external data file");
}

TEST_F(HostileImageTest, ExtendedL2Entries) {
  const auto path = MakeImage("ext.qcow2", "-o extended_l2=on");
  ExpectError(path, ErrorKind::kUnsupported,
              Real(path) +
                  ": unsupported QCOW2 image: it uses extended L2 entries "
                  "(subclusters)");
}

TEST_F(HostileImageTest, UnknownIncompatibleFeature) {
  const auto path = MakeImage("img.qcow2");
  test::PatchBe64(path, 72, uint64_t{1} << 10);
  ExpectError(path, ErrorKind::kUnsupported,
              Real(path) +
                  ": unsupported QCOW2 image: unknown incompatible features "
                  "0x400");
}

TEST_F(HostileImageTest, MarkedCorrupt) {
  const auto path = MakeImage("img.qcow2");
  test::PatchBe64(path, 72, 2);
  ExpectError(path, ErrorKind::kUnsupported,
              Real(path) + ": unsupported QCOW2 image: it is marked corrupt");
}

TEST_F(HostileImageTest, LegacyAesEncryptionAndUnknownMethods) {
  const auto path = MakeImage("img.qcow2");
  test::PatchBe32(path, 32, 1);
  ExpectError(path, ErrorKind::kUnsupported,
              Real(path) +
                  ": unsupported QCOW2 image: it is encrypted with qemu's "
                  "legacy AES-CBC (insecure, and qemu no longer writes it); "
                  "convert it to LUKS with qemu-img");
  test::PatchBe32(path, 32, 3);
  ExpectError(path, ErrorKind::kUnsupported,
              Real(path) + ": unsupported QCOW2 image: encryption method 3");
}

TEST_F(HostileImageTest, LuksWithoutItsHeaderPointer) {
  const auto path = MakeImage("img.qcow2");
  test::PatchBe32(path, 32, 2);
  ExpectError(path, ErrorKind::kCorrupt,
              Real(path) +
                  ": invalid QCOW2 image: LUKS encryption without its header "
                  "pointer");
}

TEST_F(HostileImageTest, NotQcow2IsNeverProbed) {
  RunOrFail("truncate -s 1M " + Quote(dir_ / "disk.raw"));
  ExpectError(dir_ / "disk.raw", ErrorKind::kCorrupt,
              Real(dir_ / "disk.raw") +
                  ": invalid QCOW2 image: bad magic (not a QCOW2 file)");
}

TEST_F(HostileImageTest, AbsurdClusterSize) {
  const auto path = MakeImage("img.qcow2");
  test::PatchBe32(path, 20, 30);
  ExpectError(path, ErrorKind::kCorrupt,
              Real(path) +
                  ": invalid QCOW2 image: cluster size 2^30 outside 512 "
                  "B..2 MiB");
}

TEST_F(HostileImageTest, AbsurdVirtualSize) {
  const auto path = MakeImage("img.qcow2");
  test::PatchBe64(path, 24, uint64_t{1} << 60);
  ExpectError(path, ErrorKind::kCorrupt,
              Real(path) +
                  ": invalid QCOW2 image: virtual size 1152921504606846976 "
                  "exceeds 1 PiB");
}

TEST_F(HostileImageTest, L1TablePastEndOfFile) {
  const auto path = MakeImage("img.qcow2");
  test::PatchBe64(path, 40, uint64_t{1} << 40);
  ExpectError(path, ErrorKind::kCorrupt,
              Real(path) +
                  ": invalid QCOW2 image: L1 table at 0x10000000000 lies "
                  "outside the file or is misaligned");
}

TEST_F(HostileImageTest, L2TablePastEndOfFile) {
  const auto path = MakeImage("img.qcow2");
  const uint64_t l1 = test::ReadBe64(path, 40);
  test::PatchBe64(path, l1, (uint64_t{1} << 40) | (uint64_t{1} << 63));
  ExpectError(path, ErrorKind::kCorrupt,
              Real(path) +
                  ": invalid QCOW2 image: L2 table 0 lies outside the file or "
                  "is misaligned");
}

TEST_F(HostileImageTest, DataClusterPastEndOfFile) {
  const auto path = MakeImage("img.qcow2");
  const uint64_t l2 =
      test::ReadBe64(path, test::ReadBe64(path, 40)) & 0x00fffffffffffe00ULL;
  test::PatchBe64(path, l2, (uint64_t{1} << 40) | (uint64_t{1} << 63));
  ExpectError(path, ErrorKind::kCorrupt,
              Real(path) +
                  ": invalid QCOW2 image: data cluster at 1099511627776 lies "
                  "outside the file or is misaligned");
}

TEST_F(HostileImageTest, BackingNameLongerThanAllowed) {
  const auto path = MakeOverlay("top.qcow2", "base.qcow2");
  test::PatchBe32(path, 16, 5000);
  ExpectError(
      path, ErrorKind::kCorrupt,
      Real(path) + ": invalid QCOW2 image: backing file name of 5000 bytes");
}

TEST_F(HostileImageTest, DamagedCompressedCluster) {
  const auto path = dir_ / "img.qcow2";
  RunOrFail(
      "qemu-img create -q -f qcow2 -o compression_type=zstd " + Quote(path) +
      " 1M && qemu-io -f qcow2 -c 'write -q -c -P 3 0 64k' " + Quote(path));
  const uint64_t l2 =
      test::ReadBe64(path, test::ReadBe64(path, 40)) & 0x00fffffffffffe00ULL;
  const uint64_t entry = test::ReadBe64(path, l2);
  const uint64_t data = entry & ((uint64_t{1} << 54) - 1);
  test::PatchFile(path, data, std::vector<std::byte>(16, std::byte{0x5a}));
  try {
    auto reader = ChainReader::Open(path);
    std::vector<std::byte> buf(65536);
    reader->Read(buf, 0);
    ADD_FAILURE() << "damaged compressed cluster was read";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
    EXPECT_EQ(std::string(e.what()).rfind(
                  Real(path) + ": compressed cluster does not decompress: "
                               "zstd: ",
                  0),
              0u)
        << e.what();
  }
}

}  // namespace
}  // namespace sendense::qcow2
