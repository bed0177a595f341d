#pragma once

#include <string>

namespace sendense {

// A private folder made under /var/tmp (mkdtemp, "sendense-<use>-XXXXXX")
// for files a command needs only while it runs, removed with everything
// in it when the object goes. Error (ThrowSystemError) naming `what`
// when it cannot be made.
class ScratchDir {
 public:
  ScratchDir(const std::string& use, const std::string& what);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace sendense
