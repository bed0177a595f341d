#pragma once

// How the catalog's files read a point row (internal to engine/catalog):
// the columns to select, the tables they come from, and the reader.

#include "engine/catalog/catalog.h"
#include "engine/catalog/sqlite.h"

namespace sendense::catalog_rows {

inline constexpr const char* kPointColumns =
    "p.id, p.backup_id, p.disk, p.kind, p.reason, p.file, p.parent_id, "
    "p.virtual_size, p.bytes_read, p.bytes_stored, p.seconds, "
    "coalesce(v.chain_state, 'unverified'), coalesce(v.checked_at, ''), "
    "coalesce(v.problems, '[]'), coalesce(d.root, ''), p.immutable_until, "
    "p.encrypted";
// Points with what verify found (none: unverified) and their disk digest.
inline constexpr const char* kPointsFrom =
    " FROM points p LEFT JOIN verifications v ON v.point_id = p.id "
    "LEFT JOIN disk_digests d ON d.point_id = p.id ";

inline PointRecord ReadPoint(const sqlite::Statement& s, int first) {
  PointRecord p;
  p.id = s.Int(first);
  p.backup_id = s.Int(first + 1);
  p.disk = s.Text(first + 2);
  p.kind = ParsePointKind(s.Text(first + 3));
  p.reason = s.Text(first + 4);
  p.file = s.Text(first + 5);
  if (!s.IsNull(first + 6)) {
    p.parent_id = s.Int(first + 6);
  }
  p.virtual_size = static_cast<uint64_t>(s.Int(first + 7));
  p.bytes_read = static_cast<uint64_t>(s.Int(first + 8));
  p.bytes_stored = static_cast<uint64_t>(s.Int(first + 9));
  p.seconds = s.Real(first + 10);
  p.verify_state = ParseVerifyState(s.Text(first + 11));
  p.verified_at = s.Text(first + 12);
  p.verify_problems = s.Text(first + 13);
  p.disk_digest = s.Text(first + 14);
  p.immutable_until = s.Text(first + 15);
  p.encrypted = s.Int(first + 16) != 0;
  return p;
}

}  // namespace sendense::catalog_rows
