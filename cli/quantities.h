#pragma once

// Quantities a person types: ages ("7d") and sizes ("2TiB"). Errors name
// the flag and say what is accepted, in one sentence.

#include <cstdint>
#include <string>

namespace sendense::cli {

// Seconds of "7d", "12h" or "30m"; Error kInvalidArgument naming `flag`
// otherwise.
int64_t ParseAge(const std::string& flag, const std::string& text);

// Bytes of "2TiB", "500GiB", "1.5T", "750G", "100MiB" or a number of
// bytes (K, M, G, T and P are powers of 1024, with or without "iB");
// Error kInvalidArgument naming `flag` otherwise.
int64_t ParseByteSize(const std::string& flag, const std::string& text);

}  // namespace sendense::cli
