#pragma once

// The API's guest file routes (docs/api.md): a point's guest entries as
// JSON, downloads of files (ranges) and folders (tar or zip), and one-time
// download links for browsers.

#include <cstdint>
#include <optional>
#include <string>

#include "web/routes.h"

namespace sendense::web {

// GET /api/v1/backups/VM/BACKUP/files/FS/PATH[?after=&limit=]: the entry;
// a folder with one page of its children.
Response GuestEntry(Call& call);
// GET /api/v1/backups/VM/BACKUP/download/FS/PATH[?format=tar|zip]: a
// file (Range supported) or a folder as an archive.
Response DownloadGuestPath(Call& call);
// POST /api/v1/download-links {"path": DOWNLOAD ROUTE}: a one-time URL.
Response IssueDownloadLink(Call& call);
// GET /api/v1/downloads/SECRET: the link's target, once, without the token.
Response RedeemDownloadLink(Call& call);

// "bytes=A-B" of a file of `size`: the first and last byte, or nullopt for
// a range that cannot be served (416). Only single ranges.
struct ByteRange {
  uint64_t first = 0, last = 0;
};
std::optional<ByteRange> ParseRange(const std::string& header, uint64_t size);

}  // namespace sendense::web
