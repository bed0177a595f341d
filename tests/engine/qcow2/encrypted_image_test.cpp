// Encrypted points against qemu as the reference, both ways: a chain
// written by PointWriter with LUKS reads in qemu-img with the passphrase
// (compare, check), one made by qemu-img reads here; the stored bytes are
// ciphertext; a wrong key, no key, a damaged header and a slot for another
// key are each refused in one sentence, never with wrong bytes.

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>

#include "engine/crypto/luks.h"
#include "engine/error.h"
#include "engine/qcow2/chain_reader.h"
#include "engine/qcow2/check.h"
#include "engine/qcow2/cluster_sums.h"
#include "engine/qcow2/point_writer.h"
#include "tests/support/test_env.h"

namespace sendense::qcow2 {
namespace {

using test::Quote;
using test::RunOrFail;

constexpr char kKey[] =
    "7c0d6f2b9a1e4c3d8f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f80912";
constexpr uint64_t kSize = 8 << 20;

// qemu-img's options for a LUKS image whose secret is in `key_file`.
std::string Secret(const std::string& key_file) {
  return "--object secret,id=k,file=" + key_file;
}

class EncryptedImageTest : public testing::Test {
 protected:
  void SetUp() override {
    key_file_ = dir_ / "key";
    std::ofstream(key_file_) << kKey;  // no newline: qemu reads it all
    marker_.assign(4096, std::byte{0});
    const char text[] = "SENDENSE-PLAINTEXT-MARKER ";
    for (size_t i = 0; i < marker_.size(); ++i) {
      marker_[i] = std::byte(text[i % (sizeof text - 1)]);
    }
  }

  // A full and an incremental over it, encrypted, with digests; the raw
  // disk they should read as in `expected`.
  void WriteChain(std::vector<std::byte>& expected) {
    std::mt19937_64 rng(7);
    expected.assign(kSize, std::byte{0});
    {
      PointWriterOptions o;
      o.virtual_size = kSize;
      o.luks_passphrase = kKey;
      o.sums_path = SumsPath(dir_ / "full.qcow2");
      PointWriter w(dir_ / "full.qcow2", o);
      auto data = test::RandomBytes(rng, 2 << 20);
      std::memcpy(data.data() + 65536, marker_.data(), marker_.size());
      w.WriteData(0, data);
      std::memcpy(expected.data(), data.data(), data.size());
      w.Finish();
    }
    {
      PointWriterOptions o;
      o.virtual_size = kSize;
      o.luks_passphrase = kKey;
      o.backing_name = "full.qcow2";
      o.sums_path = SumsPath(dir_ / "inc.qcow2");
      PointWriter w(dir_ / "inc.qcow2", o);
      auto data = test::RandomBytes(rng, 1 << 20);
      w.WriteData(4 << 20, data);
      std::memcpy(expected.data() + (4 << 20), data.data(), data.size());
      w.WriteZeroes(0, 65536);
      std::memset(expected.data(), 0, 65536);
      w.Finish();
    }
  }

  std::vector<std::byte> ReadAll(const std::string& path,
                                 const std::string& key) {
    ChainReader::Options o;
    o.luks_passphrase = key;
    o.check_digests = true;
    auto chain = ChainReader::Open(path, o);
    std::vector<std::byte> out(chain->size());
    // Odd pieces: reads that start and end inside sectors.
    for (uint64_t pos = 0; pos < out.size();) {
      const uint64_t n = std::min<uint64_t>(300007, out.size() - pos);
      chain->Read(std::span(out).subspan(pos, n), pos);
      pos += n;
    }
    return out;
  }

  test::TempDir dir_;
  std::string key_file_;
  std::vector<std::byte> marker_;
};

TEST_F(EncryptedImageTest, SendenseWritesWhatQemuReads) {
  std::vector<std::byte> expected;
  WriteChain(expected);
  test::WriteFile(dir_ / "expected.raw", expected);
  const std::string info =
      RunOrFail("qemu-img info --output=json " + Quote(dir_ / "inc.qcow2"));
  EXPECT_NE(info.find("\"format\": \"luks\""), std::string::npos) << info;
  // qemu reads the chain with the key and finds it clean.
  RunOrFail("qemu-img compare " + Secret(key_file_) + " --image-opts " +
            "driver=qcow2,encrypt.key-secret=k,file.filename=" +
            Quote(dir_ / "inc.qcow2") +
            ",backing.encrypt.key-secret=k "
            "driver=raw,file.filename=" +
            Quote(dir_ / "expected.raw"));
  RunOrFail("qemu-img check " + Secret(key_file_) + " --image-opts " +
            "driver=qcow2,encrypt.key-secret=k,file.filename=" +
            Quote(dir_ / "full.qcow2"));
  // And Sendense reads it back, every stored cluster checked as stored.
  EXPECT_EQ(ReadAll(dir_ / "inc.qcow2", kKey), expected);
  EXPECT_TRUE(CheckPoint(dir_ / "full.qcow2").problems.empty());
  // Ciphertext: the marker is nowhere in the file.
  const auto stored = test::ReadFile(dir_ / "full.qcow2");
  EXPECT_EQ(std::search(stored.begin(), stored.end(), marker_.begin(),
                        marker_.begin() + 64),
            stored.end());
}

TEST_F(EncryptedImageTest, QemuWritesWhatSendenseReads) {
  std::mt19937_64 rng(11);
  const auto data = test::RandomBytes(rng, 3 << 20);
  test::WriteFile(dir_ / "data.raw", data);
  // qemu times PBKDF2 to pick its iterations and, on a busy machine, at
  // times cannot ("Unable to get accurate CPU usage"): a few tries.
  const std::string create =
      "qemu-img create -q -f qcow2 " + Secret(key_file_) +
      " -o encrypt.format=luks,encrypt.key-secret=k,encrypt.iter-time=100 " +
      Quote(dir_ / "q.qcow2") + " 4M";
  for (int tries = 0; test::RunCommand(create).status != 0; ++tries) {
    ASSERT_LT(tries, 10) << "qemu-img could not make a LUKS image";
  }
  RunOrFail("qemu-io " + Secret(key_file_) + " --image-opts " +
            "driver=qcow2,encrypt.key-secret=k,file.filename=" +
            Quote(dir_ / "q.qcow2") + " -c 'write -s " + dir_ / "data.raw" +
            " 512 3M'");
  const auto got = ReadAll(dir_ / "q.qcow2", kKey);
  ASSERT_EQ(got.size(), 4u << 20);
  EXPECT_TRUE(std::all_of(got.begin(), got.begin() + 512,
                          [](std::byte b) { return b == std::byte{0}; }));
  EXPECT_TRUE(std::equal(data.begin(), data.end(), got.begin() + 512));
}

TEST_F(EncryptedImageTest, AWrongKeyNoKeyOrADamagedHeaderIsOneSentence) {
  std::vector<std::byte> expected;
  WriteChain(expected);
  const auto refused = [&](const std::string& path, const std::string& key,
                           ErrorKind kind, const std::string& words) {
    SCOPED_TRACE(path + " with key '" + key + "'");
    try {
      ReadAll(path, key);
      ADD_FAILURE() << "read without the right key";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), kind) << e.what();
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos)
          << e.what();
    }
  };
  refused(dir_ / "inc.qcow2", "another key of enough length 0123456789",
          ErrorKind::kDenied, "is encrypted with another key");
  refused(dir_ / "inc.qcow2", "", ErrorKind::kDenied,
          "is encrypted and no key was given");
  // Without the key the structure still reads: extents, and the check of
  // every stored cluster against its digest.
  auto locked = ChainReader::Open(dir_ / "inc.qcow2");
  EXPECT_FALSE(locked->Extents(0, kSize).empty());
  EXPECT_TRUE(CheckPoint(dir_ / "inc.qcow2").problems.empty());

  // A damaged key slot: the key no longer unlocks it; a damaged magic.
  const Header h = [&] {
    const File f = File::OpenReadOnly(dir_ / "full.qcow2");
    return ReadHeader(f, f.Size(), "full");
  }();
  RunOrFail("cp " + Quote(dir_ / "full.qcow2") + " " + Quote(dir_ / "a.qcow2"));
  RunOrFail("printf 'XXXXXXXX' | dd of=" + Quote(dir_ / "a.qcow2") +
            " bs=1 seek=" + std::to_string(h.crypto_offset + 4096 + 100) +
            " conv=notrunc status=none");
  refused(dir_ / "a.qcow2", kKey, ErrorKind::kDenied,
          "is encrypted with another key");
  RunOrFail("cp " + Quote(dir_ / "full.qcow2") + " " + Quote(dir_ / "b.qcow2"));
  RunOrFail("printf 'NOPE' | dd of=" + Quote(dir_ / "b.qcow2") + " bs=1 seek=" +
            std::to_string(h.crypto_offset) + " conv=notrunc status=none");
  refused(dir_ / "b.qcow2", kKey, ErrorKind::kCorrupt,
          "damaged LUKS encryption header");
  // A header pointer past the end of the file.
  RunOrFail("cp " + Quote(dir_ / "full.qcow2") + " " + Quote(dir_ / "c.qcow2"));
  RunOrFail("truncate -s " + std::to_string(h.crypto_offset + 4096) + " " +
            Quote(dir_ / "c.qcow2"));
  refused(dir_ / "c.qcow2", kKey, ErrorKind::kCorrupt, "lies outside the file");
}

}  // namespace
}  // namespace sendense::qcow2
