#include "engine/qcow2/backing_path.h"

#include <climits>
#include <cstdlib>
#include <string_view>

#include "engine/error.h"

namespace sendense::qcow2 {
namespace {

[[noreturn]] void Reject(const std::string& image,
                         const std::string& backing,
                         const std::string& why) {
  throw Error(ErrorKind::kCorrupt,
              image + ": refusing backing file '" + backing + "': " + why);
}

bool HasDotDotComponent(std::string_view name) {
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) {
      end = name.size();
    }
    if (name.substr(start, end - start) == "..") {
      return true;
    }
    start = end + 1;
  }
  return false;
}

}  // namespace

std::string ResolveBackingPath(const std::string& image_real_path,
                               const std::string& backing_name) {
  const std::string& b = backing_name;
  if (b.find('\0') != std::string::npos) {
    Reject(image_real_path, b, "the name contains a NUL byte");
  }
  if (b.rfind("json:", 0) == 0) {
    Reject(image_real_path, b, "json: names are not allowed");
  }
  if (b.find(':') != std::string::npos) {
    Reject(image_real_path, b, "protocol names are not allowed");
  }
  if (!b.empty() && b.front() == '/') {
    Reject(image_real_path, b, "absolute names are not allowed");
  }
  if (HasDotDotComponent(b)) {
    Reject(image_real_path, b, "'..' leaves the image's directory");
  }
  const std::string dir =
      image_real_path.substr(0, image_real_path.find_last_of('/'));
  const std::string joined = dir + "/" + b;
  char resolved[PATH_MAX];
  if (::realpath(joined.c_str(), resolved) == nullptr) {
    throw Error(ErrorKind::kNotFound,
                image_real_path + ": backing file '" + b + "' does not exist");
  }
  const std::string real(resolved);
  if (real.size() <= dir.size() + 1 || real.compare(0, dir.size(), dir) != 0 ||
      real[dir.size()] != '/') {
    Reject(image_real_path, b, "it resolves outside the image's directory");
  }
  return real;
}

}  // namespace sendense::qcow2
