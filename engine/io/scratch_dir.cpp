#include "engine/io/scratch_dir.h"

#include <stdlib.h>

#include <filesystem>

#include "engine/error.h"

namespace sendense {

ScratchDir::ScratchDir(const std::string& use, const std::string& what) {
  std::string dir = "/var/tmp/sendense-" + use + "-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) {
    ThrowSystemError("cannot make a folder for " + what);
  }
  path_ = dir;
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace sendense
