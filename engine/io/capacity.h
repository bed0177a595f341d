#pragma once

#include <cstdint>
#include <string>

namespace sendense {

// Bytes this process may still write on the filesystem holding `path`
// (root may use the blocks reserved for it); 0 when it cannot be asked.
uint64_t FreeBytes(const std::string& path);

// True when that filesystem has less than 1 MiB left: writes there fail,
// whatever error the failing layer reports (SQLite says "disk I/O error").
bool FilesystemFull(const std::string& path);

// Throws Error kNoSpace "the repository's filesystem is full (N bytes
// free)" followed by `detail`.
[[noreturn]] void ThrowFilesystemFull(const std::string& path,
                                      const std::string& detail = "");

}  // namespace sendense
