// The main of every test program: GoogleTest's, plus one rule. A test that
// skips because something is missing here (FUSE, root, a package) passes
// quietly on a developer's laptop, but in CI (CI=true) a skip means a
// missing install step, so the program fails and names each skipped test.

#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace {

class SkipRecorder : public testing::EmptyTestEventListener {
 public:
  void OnTestEnd(const testing::TestInfo& info) override {
    if (info.result() != nullptr && info.result()->Skipped())
      skipped_.push_back(std::string(info.test_suite_name()) + "." +
                         info.name());
  }
  const std::vector<std::string>& skipped() const { return skipped_; }

 private:
  std::vector<std::string> skipped_;
};

bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string_view(ci) == "true";
}

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  // Owned by GoogleTest's listener list once appended.
  auto* recorder = new SkipRecorder;
  testing::UnitTest::GetInstance()->listeners().Append(recorder);
  int status = RUN_ALL_TESTS();
  if (InCi() && !recorder->skipped().empty()) {
    for (const auto& name : recorder->skipped())
      std::cerr << "FAILED: " << name
                << " skipped, and CI=true: install what it needs\n";
    status = 1;
  }
  return status;
}
