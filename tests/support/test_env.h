#pragma once

// Helpers shared by the tests: scratch directories, running the real qemu
// tools, and byte-level file access.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace sendense::test {

// A fresh directory under $TMPDIR (or /var/tmp), removed with its contents
// by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const {
    return path_ + "/" + name;
  }

 private:
  std::string path_;
};

struct CommandResult {
  int status = -1;     // exit status, or -1 when killed by a signal
  std::string output;  // stdout and stderr together
};

// Runs `command` through /bin/sh and returns its status and output.
CommandResult RunCommand(const std::string& command);
// Runs `command` and fails the current test (ADD_FAILURE) unless it exits 0.
std::string RunOrFail(const std::string& command);
// Quotes `s` for /bin/sh.
std::string Quote(const std::string& s);

std::vector<std::byte> ReadFile(const std::string& path);
// The whole file as a string ("" when it cannot be read).
std::string Slurp(const std::string& path);
// Whether this process may build filesystems on loop devices (root, and
// losetup works): tests that need it skip loudly otherwise.
bool CanUseLoopDevices();
void WriteFile(const std::string& path, const std::vector<std::byte>& data);
void WriteText(const std::string& path, const std::string& text);
// Overwrites bytes of an existing file.
void PatchFile(const std::string& path,
               uint64_t offset,
               const std::vector<std::byte>& bytes);
void PatchBe64(const std::string& path, uint64_t offset, uint64_t value);
void PatchBe32(const std::string& path, uint64_t offset, uint32_t value);
uint64_t ReadBe64(const std::string& path, uint64_t offset);

// Polls `condition` every 20 ms until it holds (true) or `seconds` pass
// (false): the one way tests wait for something to happen.
bool Eventually(const std::function<bool()>& condition, double seconds = 10);

// `n` bytes of seeded pseudo-random data.
std::vector<std::byte> RandomBytes(std::mt19937_64& rng, size_t n);

}  // namespace sendense::test
