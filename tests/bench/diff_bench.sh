#!/usr/bin/env bash
# diff benchmark: two points of one VM whose guest file indexes hold N
# files each (default 100,000 in 100 folders; between them 5% of the files
# changed, 1% removed, 1% added, 1% renamed), written straight into the
# catalog (an appliance would take an hour to walk that many under TCG),
# then, side by side on the same index:
#   `sendense diff --json` (the index alone), and
#   `rsync -rn --itemize-changes --delete` between the two points' files
#   folders under `sendense mount` (what an admin runs without diff: a
#   walk and a stat of every file through FUSE; size and mtime only, no
#   data read).
# Each is run 5 times interleaved; medians are reported, and the ratio.
#
# Usage: tests/bench/diff_bench.sh [WORKDIR] [FILES]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
sendense=${SENDENSE:-$here/build/cli/sendense}
work=${1:-/var/tmp}/sendense-diff-bench
files=${2:-100000}
rm -rf "$work" && mkdir -p "$work" && cd "$work"
cleanup() {
  fusermount3 -u -z "$work/mnt" 2>/dev/null || true
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  cd / && rm -rf "$work"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT

"$sendense" -r repo init >/dev/null
qemu-img create -q -f qcow2 src.qcow2 16M
qemu-nbd -f qcow2 -t -k "$work/nbd.sock" src.qcow2 &
sleep 1
for i in 1 2; do
  "$sendense" -r repo backup --no-index --vm vm1 \
    --disk "sda=nbd+unix:///?socket=$work/nbd.sock" >/dev/null
  sleep 1.1
done
mapfile -t ids < <(sqlite3 repo/catalog.db \
  "SELECT id FROM backups WHERE state = 'complete' ORDER BY id")
mapfile -t names < <(sqlite3 repo/catalog.db \
  "SELECT name FROM backups WHERE state = 'complete' ORDER BY id")

# One filesystem per point: "/", 100 folders, FILES files. The second
# point: every 20th file bigger and newer, every 100th removed (k % 100 =
# 1), renamed (= 2), and as many new files.
sqlite3 repo/catalog.db <<SQL
PRAGMA foreign_keys = ON;
BEGIN;
INSERT INTO guest_filesystems (backup_id, name, device, fstype, state, files)
  VALUES (${ids[0]}, 'sda1', '/dev/sda1', 'ext4', 'indexed', $files + 101),
         (${ids[1]}, 'sda1', '/dev/sda1', 'ext4', 'indexed', $files + 101);
INSERT INTO guest_index_runs VALUES (${ids[0]}, '2026-12-07T00:00:00Z', 1, ''),
                                    (${ids[1]}, '2026-12-07T00:00:00Z', 1, '');
CREATE TEMP TABLE seq AS WITH RECURSIVE n(k) AS
  (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k + 1 < $files) SELECT k FROM n;
CREATE TEMP TABLE fs AS SELECT id, backup_id FROM guest_filesystems
  WHERE backup_id IN (${ids[0]}, ${ids[1]});
INSERT INTO guest_files (fs_id, parent, name, path, mode, uid, gid, size,
    nlink, ino, rdev, atime_ns, mtime_ns, ctime_ns, link_id, target)
  SELECT id, NULL, '', '/', 16877, 0, 0, 4096, 2, 2, 0, 0, 0, 0, 0, NULL
  FROM fs;
INSERT INTO guest_files (fs_id, parent, name, path, mode, uid, gid, size,
    nlink, ino, rdev, atime_ns, mtime_ns, ctime_ns, link_id, target)
  SELECT fs.id, r.id, 'd' || s.k, '/d' || s.k, 16877, 0, 0, 4096, 2,
         100 + s.k, 0, 0, 0, 0, 0, NULL
  FROM fs JOIN guest_files r ON r.fs_id = fs.id AND r.path = '/'
  JOIN seq s ON s.k < 100;
INSERT INTO guest_files (fs_id, parent, name, path, mode, uid, gid, size,
    nlink, ino, rdev, atime_ns, mtime_ns, ctime_ns, link_id, target)
  SELECT fs.id, d.id,
         CASE WHEN fs.backup_id = ${ids[1]} AND s.k % 100 = 2
              THEN 'renamed' || s.k ELSE 'f' || s.k END,
         '/d' || (s.k % 100) || '/' ||
         CASE WHEN fs.backup_id = ${ids[1]} AND s.k % 100 = 2
              THEN 'renamed' || s.k ELSE 'f' || s.k END,
         33188, 1000, 1000,
         CASE WHEN fs.backup_id = ${ids[1]} AND s.k % 20 = 0
              THEN 5000 + s.k ELSE 4000 + s.k END,
         1, 1000 + s.k, 0, 1700000000000000000,
         CASE WHEN fs.backup_id = ${ids[1]} AND s.k % 20 = 0
              THEN 1700000100000000000 ELSE 1700000000000000000 END,
         1700000000000000000, 0, NULL
  FROM fs JOIN seq s
  JOIN guest_files d ON d.fs_id = fs.id AND d.path = '/d' || (s.k % 100)
  WHERE NOT (fs.backup_id = ${ids[1]} AND s.k % 100 = 1);
INSERT INTO guest_files (fs_id, parent, name, path, mode, uid, gid, size,
    nlink, ino, rdev, atime_ns, mtime_ns, ctime_ns, link_id, target)
  SELECT fs.id, d.id, 'new' || s.k, '/d' || (s.k % 100) || '/new' || s.k,
         33188, 1000, 1000, 3000, 1, 9000000 + s.k, 0, 0,
         1700000200000000000, 0, 0, NULL
  FROM fs JOIN seq s
  JOIN guest_files d ON d.fs_id = fs.id AND d.path = '/d' || (s.k % 100)
  WHERE fs.backup_id = ${ids[1]} AND s.k % 100 = 3;
UPDATE guest_files SET link_id = id
  WHERE fs_id IN (SELECT id FROM fs);
COMMIT;
SQL

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
seconds() { local s; s=$(date +%s.%N); "$@" >/dev/null; echo "$(date +%s.%N) - $s" | bc; }

mkdir -p mnt
"$sendense" -r repo mount mnt
rsync_peer() {
  rsync -rn --itemize-changes --delete \
    "mnt/vm1/${names[1]}/files/sda1/" "mnt/vm1/${names[0]}/files/sda1/"
}
ours=() peer=()
for i in 1 2 3 4 5; do
  ours+=("$(seconds "$sendense" -r repo diff --vm vm1 "${names[0]}" "${names[1]}" --json)")
  peer+=("$(seconds rsync_peer)")
done
"$sendense" -r repo diff --vm vm1 "${names[0]}" "${names[1]}" | tail -1
echo "rsync lines: $(rsync_peer | wc -l)"
o=$(printf '%s\n' "${ours[@]}" | median)
p=$(printf '%s\n' "${peer[@]}" | median)
echo "files per point: $files"
echo "sendense diff --json: median ${o} s (runs: ${ours[*]})"
echo "rsync -rn over the mount: median ${p} s (runs: ${peer[*]})"
echo "ratio (rsync / diff): $(echo "scale=1; $p / $o" | bc)x"
