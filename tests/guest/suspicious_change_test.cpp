// Suspicious change on a guest of 2,000 text files: a point where 5% of
// them changed the way a package upgrade changes files is clean, and so
// is one where a folder of .zip archives grew; one where 80% of them were
// encrypted (openssl enc), renamed .locked, with a README-DECRYPT.txt in
// each folder, is marked suspicious with its reasons, until reviewed.

#include <nlohmann/json.hpp>

#include "tests/guest/ext4_guest_fixture.h"

namespace sendense::test {
namespace {

class SuspiciousChangeTest : public Ext4GuestFixture {};

TEST_F(SuspiciousChangeTest, MassEncryptionIsMarkedAndUsualChangeIsNot) {
  const std::string g = guest_ + "/";
  // 20 folders of 100 text files, about 2 KiB each.
  RunOrFail("cd " + Quote(guest_) +
            " && for d in $(seq 0 19); do mkdir -p docs$d; for f in $(seq 0 "
            "99); do for l in $(seq 1 40); do echo \"line $l of report $d-$f: "
            "quarterly figures\"; done > docs$d/report$f.txt; done; done");
  const std::string p1 = Point();
  // A package upgrade: 100 files rewritten, a few added.
  RunOrFail("cd " + Quote(guest_) +
            " && for f in $(seq 0 99); do d=$((f % 20)); for l in $(seq 1 "
            "45); do echo \"line $l, version 2 of $f\"; done > "
            "docs$d/report$f.txt; done && mkdir -p lib && for f in $(seq 1 "
            "5); do echo new library $f > lib/lib$f.so.2; done");
  const std::string p2 = Point();
  // A folder of archives grows.
  RunOrFail("mkdir -p " + Quote(g + "archives") +
            " && for i in $(seq 1 50); "
            "do head -c 30000 /dev/urandom > " +
            Quote(g + "archives") + "/backup$i.zip; done");
  const std::string p3 = Point();
  // The attack: 80 of each folder's 100 files encrypted and renamed, a
  // note in every folder.
  RunOrFail("cd " + Quote(guest_) +
            " && for d in $(seq 0 19); do for f in $(seq 0 79); do "
            "openssl enc -aes-256-cbc -pbkdf2 -iter 1 -pass pass:x -in "
            "docs$d/report$f.txt -out docs$d/report$f.txt.locked && rm "
            "docs$d/report$f.txt; done; echo 'Your files are encrypted. Pay "
            "to decrypt.' > docs$d/README-DECRYPT.txt; done");
  const std::string p4 = Point();

  const std::string said = RunOrFail(std::string(SENDENSE_BINARY) + " -r " +
                                     Quote(repo_) + " index");
  const auto backups =
      SendenseJson("list --vm vm1 --json")["vms"][0]["backups"];
  ASSERT_EQ(backups.size(), 4u) << backups.dump(2);
  EXPECT_TRUE(backups[0]["suspicion"].is_null()) << "nothing before p1";
  for (int i : {1, 2}) {
    const auto& s = backups[i]["suspicion"];
    EXPECT_EQ(s["state"], "clean")
        << backups[i]["name"] << " " << s.dump(2) << "\nindex said:\n"
        << said;
  }
  EXPECT_NEAR(backups[1]["suspicion"]["changed_share"].get<double>(), 0.05,
              0.01);
  const auto& attack = backups[3]["suspicion"];
  ASSERT_EQ(attack["state"], "suspicious") << attack.dump(2) << "\n" << said;
  const std::string reasons = attack["reasons"].dump();
  EXPECT_NE(reasons.find("ransom note"), std::string::npos) << reasons;
  EXPECT_NE(reasons.find("1600 files renamed or written with a ransomware"),
            std::string::npos)
      << reasons;
  EXPECT_NE(reasons.find("look encrypted"), std::string::npos) << reasons;
  EXPECT_GE(attack["sampled"].get<int>(), 5) << attack.dump(2);
  EXPECT_EQ(attack["compared_with"], p3);
  EXPECT_NE(said.find("suspicious"), std::string::npos) << said;
  const std::string listed = RunOrFail(std::string(SENDENSE_BINARY) + " -r " +
                                       Quote(repo_) + " list --vm vm1");
  EXPECT_NE(listed.find("SUSPICIOUS"), std::string::npos) << listed;

  // Reviewed: marked so, reasons kept.
  auto r = Sendense("review --vm vm1 " + p4);
  ASSERT_EQ(r.status, 0) << r.output;
  const auto after = SendenseJson("list --vm vm1 --json")["vms"][0]["backups"];
  EXPECT_EQ(after[3]["suspicion"]["state"], "reviewed") << after[3].dump(2);
  EXPECT_EQ(after[3]["suspicion"]["reasons"], attack["reasons"]);
  r = Sendense("review --vm vm1 " + p2);
  EXPECT_NE(r.output.find("is not marked suspicious"), std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace sendense::test
