#pragma once

#include <cstdint>
#include <string>
#include <utility>

namespace sendense {

// "host:port" -> (host, port); Error kInvalidArgument when malformed.
std::pair<std::string, uint16_t> ParseListen(const std::string& listen);

}  // namespace sendense
