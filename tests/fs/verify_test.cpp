// Verify through the real binary: digests recorded at backup time find a
// flipped byte in a middle point (damaged), the points built on it
// (depends-on-damaged) and leave the ones below alone (ok); damaged
// tables, a truncated file and a file replaced by another valid image are
// damaged too; prunes keep the digests right; points without digests are
// unverified.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <xxhash.h>

#include <map>

#include "tests/support/mount_fixture.h"

namespace sendense::test {
namespace {

class VerifyTest : public MountFixture {
 protected:
  std::vector<std::string> FourPoints() {
    std::vector<std::string> names;
    names.push_back(TakeBackup());
    for (int i = 1; i < 4; ++i) {
      ChangeSource("-c 'write -q -P " + std::to_string(0x40 + i) + " " +
                   std::to_string(i * 8) + "M 2M' -c 'write -q -z " +
                   std::to_string(i * 8 + 3) + "M 64k'");
      names.push_back(TakeBackup("--bitmap b0"));
    }
    return names;
  }

  // point name -> verify state, from `verify --json` (exit status in `status`).
  std::map<std::string, std::string> Verify(int& status,
                                            const std::string& extra = "") {
    const std::string out = dir_ / "verify.json";
    const auto r =
        RunCommand("( " + std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) +
                   " verify --json " + extra + " >" + Quote(out) + " )");
    status = r.status;
    last_error_ = r.output;
    const auto bytes = ReadFile(out);
    last_ = nlohmann::json::parse(
        std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    std::map<std::string, std::string> states;
    for (const auto& p : last_["points"]) {
      states[p["backup"]] = p["state"];
    }
    return states;
  }

  // The host offset of the first data cluster of a point's own file, and
  // the L2 entry's offset in the file.
  std::pair<uint64_t, uint64_t> FirstDataCluster(const std::string& file) {
    const uint64_t l1 = ReadBe64(file, 40);
    for (uint64_t i = 0;; ++i) {
      const uint64_t l2 = ReadBe64(file, l1 + i * 8) & 0x00fffffffffffe00ULL;
      if (l2 == 0) {
        continue;
      }
      for (uint64_t e = 0; e < 8192; ++e) {
        const uint64_t entry = ReadBe64(file, l2 + e * 8);
        const uint64_t host = entry & 0x00fffffffffffe00ULL;
        if (host != 0 && !(entry & (1ULL << 62)) && !(entry & 1)) {
          return {host, l2 + e * 8};
        }
      }
    }
  }

  // Where a host cluster of a point's own file is on the virtual disk,
  // from qemu (-1: not found).
  int64_t GuestOffset(const std::string& file, uint64_t host) {
    const auto map = nlohmann::json::parse(
        RunOrFail("qemu-img map -U -f qcow2 --output=json " + Quote(file)));
    for (const auto& e : map) {
      if (e["depth"] == 0 && e.contains("offset") &&
          e["offset"].get<uint64_t>() <= host &&
          host < e["offset"].get<uint64_t>() + e["length"].get<uint64_t>()) {
        return e["start"].get<int64_t>() +
               static_cast<int64_t>(host - e["offset"].get<uint64_t>());
      }
    }
    return -1;
  }

  // Reads `len` bytes at `offset` of a point's raw disk in the tree:
  // bytes read, or -errno.
  ssize_t ReadRaw(const std::string& point,
                  off_t offset,
                  size_t len,
                  std::vector<std::byte>& out) {
    const int fd =
        ::open((mnt_ + "/vm1/" + point + "/disks/sda.raw").c_str(), O_RDONLY);
    out.assign(len, std::byte{0});
    const ssize_t n = ::pread(fd, out.data(), len, offset);
    const int err = errno;
    ::close(fd);
    return n < 0 ? -err : n;
  }

  nlohmann::json last_;
  std::string last_error_;
};

// The whole-disk digest of raw disk bytes, computed here from the
// definition in docs/architecture.md: XXH3-128 of each 64 KiB cluster,
// of each 16384 cluster digests, then of the size, the cluster size and
// the group digests (all big-endian).
std::string RawDiskDigest(const std::vector<std::byte>& raw) {
  const auto put = [](std::string& out, uint64_t v) {
    for (int i = 7; i >= 0; --i) {
      out.push_back(static_cast<char>(v >> (8 * i)));
    }
  };
  const size_t cs = 65536;
  std::string groups;
  put(groups, raw.size());
  put(groups, cs);
  std::string leaves;
  for (size_t c = 0; c * cs < raw.size(); ++c) {
    std::vector<std::byte> cluster(cs);
    std::copy_n(raw.begin() + c * cs, std::min(cs, raw.size() - c * cs),
                cluster.begin());
    const auto h = XXH3_128bits(cluster.data(), cs);
    put(leaves, h.high64);
    put(leaves, h.low64);
    if ((c + 1) % 16384 == 0 || (c + 1) * cs >= raw.size()) {
      const auto g = XXH3_128bits(leaves.data(), leaves.size());
      put(groups, g.high64);
      put(groups, g.low64);
      leaves.clear();
    }
  }
  const auto root = XXH3_128bits(groups.data(), groups.size());
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx",
                static_cast<unsigned long long>(root.high64),
                static_cast<unsigned long long>(root.low64));
  return std::string("xxh3-128:") + hex;
}

TEST_F(VerifyTest, AFlippedByteDamagesItsPointAndThoseBuiltOnIt) {
  const auto names = FourPoints();
  int status = -1;
  auto states = Verify(status);
  EXPECT_EQ(status, 0) << last_error_;
  for (const auto& n : names) {
    EXPECT_EQ(states[n], "ok") << n;
  }
  const std::string middle = repo_ + "/" + PointFiles(names[1])[0];
  const auto [host, entry] = FirstDataCluster(middle);
  auto byte = ReadFile(middle);
  PatchFile(middle, host + 100, {byte[host + 100] ^ std::byte{0x01}});
  states = Verify(status);
  EXPECT_EQ(status, 1);
  EXPECT_NE(last_error_.find("damaged or built on a damaged point"),
            std::string::npos)
      << last_error_;
  EXPECT_EQ(states[names[0]], "ok");
  EXPECT_EQ(states[names[1]], "damaged");
  EXPECT_EQ(states[names[2]], "depends-on-damaged");
  EXPECT_EQ(states[names[3]], "depends-on-damaged");
  for (const auto& p : last_["points"]) {
    if (p["backup"] == names[1]) {
      ASSERT_EQ(p["problems"].size(), 1u) << p;
      EXPECT_EQ(p["problems"][0]["length"], 65536);
      EXPECT_EQ(p["problems"][0]["what"],
                "stored data does not match its digest");
    }
  }
  // Stored: list and the tree's backup.json say so.
  const auto list = SendenseJson("list --json");
  EXPECT_EQ(list["vms"][0]["backups"][1]["verify_state"], "damaged");
  EXPECT_EQ(list["vms"][0]["backups"][2]["points"][0]["verify"]["state"],
            "depends-on-damaged");
  EXPECT_EQ(list["vms"][0]["backups"][0]["points"][0]["verify"]["state"], "ok");
  EXPECT_NE(list["vms"][0]["backups"][0]["points"][0]["verify"]["checked_at"],
            "");
  Mount();
  const auto json = ReadFile(mnt_ + "/vm1/" + names[1] + "/backup.json");
  EXPECT_NE(std::string(reinterpret_cast<const char*>(json.data()), json.size())
                .find("\"verify_state\": \"damaged\""),
            std::string::npos);
  Unmount();
  // One point only: the chain state still counts what is below it.
  states = Verify(status, "--vm vm1 --point " + names[3]);
  EXPECT_EQ(status, 1);
  EXPECT_EQ(states[names[3]], "depends-on-damaged");
}

TEST_F(VerifyTest, DamagedTablesTruncatedAndReplacedFilesAreDamaged) {
  const auto names = FourPoints();
  int status = -1;
  // An L2 entry pointing past the end of the file.
  const std::string p1 = repo_ + "/" + PointFiles(names[1])[0];
  const auto [host, entry] = FirstDataCluster(p1);
  PatchBe64(p1, entry, (uint64_t{1} << 40) | (1ULL << 63));
  // A truncated point file.
  const std::string p2 = repo_ + "/" + PointFiles(names[2])[0];
  RunOrFail("truncate -s 300K " + Quote(p2));
  auto states = Verify(status);
  EXPECT_EQ(status, 1);
  EXPECT_EQ(states[names[0]], "ok");
  EXPECT_EQ(states[names[1]], "damaged");
  EXPECT_EQ(states[names[2]], "damaged");
  EXPECT_EQ(states[names[3]], "depends-on-damaged");
  // The full replaced by a valid image of the same size and other content.
  const std::string p0 = repo_ + "/" + PointFiles(names[0])[0];
  RunOrFail("qemu-img create -q -f qcow2 " + Quote(dir_ / "other.qcow2") +
            " 64M && qemu-io -f qcow2 -c 'write -q -P 0x99 0 16M' " +
            Quote(dir_ / "other.qcow2") + " && cp " +
            Quote(dir_ / "other.qcow2") + " " + Quote(p0));
  states = Verify(status, "--vm vm1 --point " + names[0]);
  EXPECT_EQ(status, 1);
  EXPECT_EQ(states[names[0]], "damaged");
}

// Each point's whole-disk digest, derived from its parent's at backup
// time, is the digest of the bytes the point presents; a prune leaves the
// survivors' digests as they were; digest files that no longer add up to
// it (a record cleared) make the point damaged.
// A header field changed behind the catalog's back is damage: the virtual
// size grown by 255 bytes (a restore would write them) is found, named, and
// the point refused for restore.
TEST_F(VerifyTest, AHeaderFieldThatDisagreesWithTheCatalogIsDamage) {
  const std::string name = TakeBackup();
  const std::string file = repo_ + "/" + PointFiles(name)[0];
  const uint64_t size = ReadBe64(file, 24);
  std::vector<std::byte> grown(8);
  for (int i = 0; i < 8; ++i) {
    grown[i] = static_cast<std::byte>((size + 255) >> (8 * (7 - i)));
  }
  PatchFile(file, 24, grown);
  int status = -1;
  auto states = Verify(status);
  EXPECT_EQ(status, 1) << last_error_;
  EXPECT_EQ(states[name], "damaged");
  ASSERT_EQ(last_["points"].size(), 1u);
  EXPECT_NE(last_["points"][0]["problems"].dump().find(
                "the virtual size is " + std::to_string(size + 255) +
                " bytes, the catalog recorded " + std::to_string(size)),
            std::string::npos)
      << last_["points"][0];
  const auto restore =
      RunCommand(std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) +
                 " restore --vm vm1 --to " + Quote(dir_ / "out.raw"));
  EXPECT_NE(restore.status, 0) << restore.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out.raw"));
}

TEST_F(VerifyTest, DiskDigestsNameTheBytesOfEachPoint) {
  const auto names = FourPoints();
  std::map<std::string, std::string> recorded;
  const auto list = SendenseJson("list --json");
  for (const auto& b : list["vms"][0]["backups"]) {
    recorded[b["name"]] = b["points"][0]["disk_digest"];
  }
  for (const auto& n : names) {
    EXPECT_EQ(recorded[n],
              RawDiskDigest(ReadFile(ConvertPoint(PointFiles(n)[0]))))
        << n;
  }
  EXPECT_NE(recorded[names[0]], recorded[names[1]]);
  ASSERT_EQ(Sendense("prune --vm vm1 --keep-last 2").status, 0);
  const auto after = SendenseJson("list --json");
  ASSERT_EQ(after["vms"][0]["backups"].size(), 2u);
  for (const auto& b : after["vms"][0]["backups"]) {
    EXPECT_EQ(b["points"][0]["disk_digest"], recorded[b["name"]]);
  }
  int status = -1;
  Verify(status);
  EXPECT_EQ(status, 0) << last_.dump();
  // The newest point's record of the first cluster it wrote (at 24 MiB),
  // cleared: every cluster left with a record still matches it, the disk
  // digest no longer does.
  const std::string sums = repo_ + "/" + PointFiles(names[3])[0] + ".sums";
  PatchFile(sums, 24 * 16 * 16, std::vector<std::byte>(16));
  auto states = Verify(status);
  EXPECT_EQ(status, 1);
  EXPECT_EQ(states[names[3]], "damaged");
  EXPECT_NE(last_.dump().find("do not add up to the disk digest"),
            std::string::npos)
      << last_.dump();
}

TEST_F(VerifyTest, PrunesKeepDigestsRightAndOldPointsAreUnverified) {
  const auto names = FourPoints();
  ASSERT_EQ(Sendense("prune --vm vm1 --keep-last 2").status, 0);
  int status = -1;
  auto states = Verify(status);
  EXPECT_EQ(status, 0) << last_error_ << last_.dump();
  EXPECT_EQ(states.size(), 2u);
  EXPECT_EQ(states[names[2]], "ok");
  EXPECT_EQ(states[names[3]], "ok");
  // A point whose digest file is lost is damaged; one from before digests
  // existed (no disk digest recorded either) is unverified.
  ::unlink((repo_ + "/" + PointFiles(names[3])[0] + ".sums").c_str());
  states = Verify(status);
  EXPECT_EQ(status, 1);
  EXPECT_EQ(states[names[3]], "damaged");
  CatalogSql("DELETE FROM disk_digests");
  states = Verify(status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(states[names[3]], "unverified");
  EXPECT_EQ(states[names[2]], "ok");
}

// The tree checks what it serves: the damaged cluster reads as EIO, in the
// damaged point and in a point that reads it through its chain; every
// other byte is right; the read marks the point damaged.
TEST_F(VerifyTest, TheTreeServesEioForADamagedClusterAndRightBytesElsewhere) {
  const auto names = FourPoints();
  const std::string middle = repo_ + "/" + PointFiles(names[1])[0];
  const auto [host, entry] = FirstDataCluster(middle);
  const int64_t guest = GuestOffset(middle, host);
  ASSERT_GE(guest, 0);
  const auto want1 = ReadFile(ConvertPoint(PointFiles(names[1])[0]));
  const auto want0 = ReadFile(ConvertPoint(PointFiles(names[0])[0]));
  auto byte = ReadFile(middle);
  PatchFile(middle, host + 100, {byte[host + 100] ^ std::byte{0x01}});
  Mount();
  const auto read = [&](const std::string& point, off_t offset, size_t len,
                        std::vector<std::byte>& out) {
    return ReadRaw(point, offset, len, out);
  };
  std::vector<std::byte> got;
  EXPECT_EQ(read(names[1], guest + 4096, 4096, got), -EIO);
  // Right bytes elsewhere in the damaged point: the cluster before it.
  if (guest >= 65536) {
    ASSERT_EQ(read(names[1], guest - 65536, 65536, got), 65536);
    EXPECT_TRUE(
        std::equal(got.begin(), got.end(), want1.begin() + (guest - 65536)));
  }
  // The point below never had the damaged cluster: right bytes there.
  ASSERT_EQ(read(names[0], guest, 65536, got), 65536);
  EXPECT_TRUE(std::equal(got.begin(), got.end(), want0.begin() + guest));
  const auto list = SendenseJson("list --json");
  EXPECT_EQ(list["vms"][0]["backups"][1]["points"][0]["verify"]["state"],
            "damaged");
  EXPECT_NE(
      RunCommand("cat " + daemon_log_).output.find("does not match its digest"),
      std::string::npos);
  Unmount();
}

// A damaged full under an incremental that is read: the newest point's
// read of a cluster only the full holds fails with EIO; the clusters the
// incrementals hold read right.
TEST_F(VerifyTest, ADamagedFullFailsReadsOfTheIncrementalOnTopWhereItShows) {
  const auto names = FourPoints();
  const std::string full = repo_ + "/" + PointFiles(names[0])[0];
  const auto [host, entry] = FirstDataCluster(full);
  const int64_t guest = GuestOffset(full, host);
  ASSERT_GE(guest, 0);
  // FourPoints rewrites 8-10, 16-18 and 24-26 MiB: the full's first data
  // cluster must be elsewhere for this test to mean anything.
  ASSERT_TRUE(guest < 8 << 20 || guest >= 27 << 20) << guest;
  const auto want3 = ReadFile(ConvertPoint(PointFiles(names[3])[0]));
  auto bytes = ReadFile(full);
  PatchFile(full, host + 7, {bytes[host + 7] ^ std::byte{0x80}});
  Mount();
  std::vector<std::byte> got;
  EXPECT_EQ(ReadRaw(names[3], guest, 4096, got), -EIO);
  // What the newest incremental holds itself reads right.
  ASSERT_EQ(ReadRaw(names[3], 24 << 20, 2 << 20, got), 2 << 20);
  EXPECT_TRUE(std::equal(got.begin(), got.end(), want3.begin() + (24 << 20)));
  Unmount();
  int status = -1;
  auto states = Verify(status);
  EXPECT_EQ(status, 1);
  EXPECT_EQ(states[names[0]], "damaged");
  EXPECT_EQ(states[names[3]], "depends-on-damaged");
}

}  // namespace
}  // namespace sendense::test
