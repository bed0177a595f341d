// backup --changed-ranges: an incremental of any NBD source from changes
// tracked outside it (as vSphere's changed block tracking reports them),
// over nbdkit serving a raw disk that changes between backups.

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/backup_fixture.h"

namespace sendense::test {
namespace {

class ChangedRangesBackupTest : public BackupFixture {};

TEST_F(ChangedRangesBackupTest,
       AnIncrementalFromTrackedChangesEqualsTheSource) {
  const std::string raw = dir_ / "disk.raw";
  RunOrFail("truncate -s 64M " + Quote(raw) +
            " && head -c 8M /dev/urandom | dd of=" + Quote(raw) +
            " bs=1M seek=8 conv=notrunc status=none");
  NbdServer server(dir_.path(),
                   "nbdkit --exit-with-parent -U {sock} file " + Quote(raw));
  ASSERT_EQ(
      Sendense("vm add cbt --disk " + Quote("sda=" + server.uri())).status, 0);
  auto r = SendenseJson("backup --vm cbt --no-index --json");
  EXPECT_EQ(r["points"][0]["kind"], "full");

  // Two writes the tracker reports, in vSphere's form.
  RunOrFail("head -c 1M /dev/urandom | dd of=" + Quote(raw) +
            " bs=1M seek=2 conv=notrunc status=none && head -c 8K "
            "/dev/urandom | dd of=" +
            Quote(raw) + " bs=4K seek=10241 conv=notrunc status=none");
  std::ofstream(dir_ / "changes.json")
      << R"({"changedArea": [{"start": 41947136, "length": 8192},
                             {"start": 2097152, "length": 1048576}]})";
  r = SendenseJson("backup --vm cbt --no-index --json --changed-ranges " +
                   Quote(dir_ / "changes.json"));
  const auto& p = r["points"][0];
  EXPECT_EQ(p["kind"], "incremental") << r.dump();
  EXPECT_EQ(p["reason"], "changed ranges " + dir_ / "changes.json" +
                             " since the previous point");
  EXPECT_LE(p["bytes_read"].get<uint64_t>(), (1u << 20) + (128u << 10));
  const std::string file = repo_ + "/" + p["file"].get<std::string>();
  RunOrFail("qemu-img check -q -f qcow2 " + Quote(file));
  const auto cmp = RunCommand("qemu-img compare -f raw -F qcow2 " + Quote(raw) +
                              " " + Quote(file));
  EXPECT_EQ(cmp.status, 0) << cmp.output;

  // A range past the disk: refused, nothing published.
  std::ofstream(dir_ / "past.json")
      << R"([{"offset": 67104768, "length": 8192}])";
  const auto bad = Sendense("backup --vm cbt --no-index --changed-ranges " +
                            Quote(dir_ / "past.json"));
  EXPECT_NE(bad.status, 0);
  EXPECT_EQ(bad.output, "sendense: changed ranges " + dir_ / "past.json" +
                            ": the range 67104768+8192 ends past disk sda "
                            "(67108864 bytes): nothing was written\n");
  const auto backups = SendenseJson("list --json")["vms"][0]["backups"];
  int complete = 0;
  for (const auto& b : backups) {
    complete += b["state"] == "complete";
  }
  EXPECT_EQ(complete, 2);
  EXPECT_EQ(
      Sendense("backup --vm cbt --changed-ranges " + Quote(dir_ / "none.json"))
          .output,
      "sendense: cannot read the changed ranges file " + dir_ / "none.json" +
          "\n");
}

}  // namespace
}  // namespace sendense::test
