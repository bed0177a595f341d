#pragma once

#include <string>

namespace sendense::qcow2 {

// Resolves the backing file name stored in an (untrusted) image to a real
// path. Only plain relative names that stay inside the directory of the
// image are accepted: absolute names, `..` components, `json:` and protocol
// names (anything with a ':'), and names whose real path (symlinks
// resolved) leaves the image's directory are rejected with Error kCorrupt;
// a missing backing file is Error kNotFound.
// `image_real_path` must already be a canonical path (realpath).
std::string ResolveBackingPath(const std::string& image_real_path,
                               const std::string& backing_name);

}  // namespace sendense::qcow2
