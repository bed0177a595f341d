#pragma once

#include <map>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/catalog/targets.h"
#include "engine/copy/copy.h"
#include "engine/s3/s3_client.h"

namespace sendense::copy {

// Where a copy puts a backup's record in the bucket (under the target's
// prefix): vms/VM/backups/BACKUP.json, the manifest. Point files keep
// their repository paths (vms/VM/DISK/BACKUP.qcow2 and its digests), so
// the bucket alone rebuilds a repository.
std::string ManifestKey(const std::string& vm, const std::string& backup);
// ... and its guest file index: vms/VM/backups/BACKUP.index.db, a catalog
// holding only that backup's index rows.
std::string IndexKey(const std::string& vm, const std::string& backup);

// The VMs the bucket has manifests of, each with its backups' names.
std::map<std::string, std::set<std::string>> BucketBackups(
    const s3::Client& client);

// Copies to an S3 target every complete backup of `vm` ("" for every VM)
// newer than the newest the bucket has of its VM, oldest first, as stored
// (an incremental stays one: its parent is in the bucket): each point's
// QCOW2 and digests (multipart with parallel parts above 64 MiB, every
// part with Content-MD5, the object's size and ETag checked with HEAD
// afterwards), each with the target's Object Lock (the backup's time +
// lock days), then the backup's manifest ({"format": 1, "vm", "backup",
// "started_at", "finished_at", "checkpoint", "consistency", "domain_xml",
// "points": [{"disk", "kind", "reason", "file", "parent", "virtual_size",
// "bytes_stored", "disk_digest", "digest_groups", "size", "etag", "sums":
// {"file", "size", "etag"} | null}], "guest_index": {"file", "backup_id",
// "size", "etag"} | null}) last: a backup without one is not
// in the bucket. Uploads a killed copy left are aborted first (none stays
// billing). A damaged point is refused as by Copy; the source records
// each copy under the target's name.
CopyReport CopyToS3(const Repository& from,
                    const Target& target,
                    const std::string& vm,
                    JobProgress& progress);

// Rebuilds backups in `to` from an S3 target: every backup of `vm` ("" for
// every VM) whose manifest the bucket has and that is newer than the
// newest `to` has of its VM, oldest first: its point files and digests
// downloaded, each point checked against its digests, published as a
// backup is (renamed into place and synced before the catalog records
// it), with its record (kinds, parents, disk digests, domain XML). A
// manifest naming a file outside its VM's folder is refused (kCorrupt).
// The report's "to" is `to`'s path. s3_restore.cpp.
CopyReport CopyFromS3(const Repository& to,
                      const Target& target,
                      const std::string& vm,
                      JobProgress& progress);

}  // namespace sendense::copy
