#include "tests/support/backup_fixture.h"

#include <chrono>
#include <filesystem>
#include <thread>

namespace sendense::test {

void BackupFixture::SetUp() {
  repo_ = dir_ / "repo";
  source_ = dir_ / "source.qcow2";
  ASSERT_EQ(Sendense("init").status, 0);
}

CommandResult BackupFixture::Sendense(const std::string& args) {
  return RunCommand(std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) + " " +
                    args);
}

nlohmann::json BackupFixture::SendenseJson(const std::string& args) {
  const std::string out_path = dir_ / "out.json";
  // Only stdout goes to the file; stderr (progress, notes) to the output.
  const auto r =
      RunCommand("( " + std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) +
                 " " + args + " >" + Quote(out_path) + " )");
  EXPECT_EQ(r.status, 0) << args << "\n" << r.output;
  const auto bytes = ReadFile(out_path);
  try {
    return nlohmann::json::parse(
        std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not JSON: " << e.what();
    return {};
  }
}

void BackupFixture::MakeSource(const std::string& size) {
  RunOrFail("qemu-img create -q -f qcow2 " + Quote(source_) + " " + size);
  ChangeSource(
      "-c 'write -q -s /etc/services 0 8k' -c 'write -q -P 0x11 1M 3M' "
      "-c 'write -q -z 8M 2M' -c 'write -q -P 0x22 12M 64k' "
      "-c 'write -q -P 0x33 14M 1000k'");
  RunOrFail("qemu-img bitmap --add " + Quote(source_) + " b0");
}

void BackupFixture::ChangeSource(const std::string& qemu_io_commands) {
  RunOrFail("qemu-io -f qcow2 " + qemu_io_commands + " " + Quote(source_));
}

std::string BackupFixture::SnapshotSource(const std::string& name) {
  const std::string path = dir_ / (name + ".raw");
  RunOrFail("qemu-img convert -U -f qcow2 -O raw " + Quote(source_) + " " +
            Quote(path));
  return path;
}

std::string BackupFixture::BackupArgs(const NbdServer& server,
                                      const std::string& extra) {
  return "backup --no-index --vm vm1 --disk sda=" + Quote(server.uri()) + " " +
         extra;
}

std::string BackupFixture::Backup() {
  NbdServer server(dir_.path(), QemuNbdCommand(source_, "b0"));
  const auto out =
      RunOrFail(std::string(SENDENSE_BINARY) + " -r " + Quote(repo_) + " " +
                BackupArgs(server, "--bitmap b0 --json"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  return nlohmann::json::parse(out)["name"];
}

std::vector<std::string> BackupFixture::RepoFiles() {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& e :
       std::filesystem::recursive_directory_iterator(repo_ + "/vms", ec)) {
    const std::string name = e.path().string();
    const bool digests = name.size() > 11 &&
                         name.compare(name.size() - 11, 11, ".qcow2.sums") == 0;
    if (e.is_regular_file() && !digests) {
      files.push_back(std::filesystem::relative(e.path(), repo_).string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace sendense::test
