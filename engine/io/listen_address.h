#pragma once

#include <cstdint>
#include <string>
#include <utility>

namespace sendense {

// "host:port" -> (host, port); Error kInvalidArgument when malformed.
std::pair<std::string, uint16_t> ParseListen(const std::string& listen);

// Whether `host` is a loopback IP address (127.0.0.0/8, ::1); names are not.
bool IsLoopbackAddress(const std::string& host);

}  // namespace sendense
