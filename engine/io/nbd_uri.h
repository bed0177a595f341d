#pragma once

#include <string>

namespace sendense {

// Whether `text` is an NBD URI libnbd takes (nbd://, nbds://, nbd+unix://,
// nbds+unix://, nbd+vsock://, nbds+vsock://) rather than a path.
bool IsNbdUri(const std::string& text);

// Error kInvalidArgument unless `uri` is an NBD URI: the sentence names the
// disk and, for a path to an image, how to serve it.
void RequireNbdUri(const std::string& disk, const std::string& uri);

}  // namespace sendense
