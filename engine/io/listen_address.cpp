#include "engine/io/listen_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdexcept>

#include "engine/error.h"

namespace sendense {

std::pair<std::string, uint16_t> ParseListen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  try {
    if (colon == std::string::npos || colon == 0) {
      throw std::invalid_argument("no port");
    }
    const std::string digits = listen.substr(colon + 1);
    if (digits.empty() || digits.size() > 5 ||
        digits.find_first_not_of("0123456789") != std::string::npos) {
      throw std::invalid_argument("port");
    }
    const int port = std::stoi(digits);
    if (port > 65535) {
      throw std::invalid_argument("port");
    }
    return {listen.substr(0, colon), static_cast<uint16_t>(port)};
  } catch (const std::exception&) {
    throw Error(ErrorKind::kInvalidArgument,
                "--listen '" + listen + "' is not ADDRESS:PORT");
  }
}

bool IsLoopbackAddress(const std::string& host) {
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6);
  }
  return false;
}

}  // namespace sendense
