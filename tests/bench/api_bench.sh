#!/usr/bin/env bash
# HTTP API benchmark, in one run on one point served by `sendense serve
# --mount`:
#   wrk (64 connections, 2 threads) against the list endpoints: VMs,
#     backups, jobs, a backup's detail and a 100-entry guest folder
#     (requests/s and latency percentiles; target p99 < 20 ms);
#   a 256 MiB guest file downloaded over HTTP (curl) vs read from the tree
#     (cat), alternating, the host page cache dropped before each tree
#     read, after a warm-up read that starts the point's appliance (shared
#     by the tree and the API); target: download >= 80% of the tree's speed.
#
# Usage: tests/bench/api_bench.sh [WORKDIR] [SECONDS_PER_ENDPOINT]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
sendense=${SENDENSE:-$here/build/cli/sendense}
work=${1:-/var/tmp}/sendense-api-bench
duration=${2:-10}
rm -rf "$work" && mkdir -p "$work" && cd "$work"
cleanup() {
  fusermount3 -u -z "$work/mnt" 2>/dev/null || true
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  cd / && rm -rf "$work"
}
trap cleanup EXIT
export LIBGUESTFS_BACKEND=direct

mkdir -p guest/big guest/folder
for f in $(seq 0 99); do echo "file $f" >"guest/folder/f$f.txt"; done
head -c 256M /dev/urandom >guest/big/file.bin
truncate -s 1G disk.raw
echo 'start=2048, type=83' | sfdisk -q disk.raw
mkfs.ext4 -q -F -d guest -E offset=1048576 disk.raw 1023M
qemu-img convert -f raw -O qcow2 disk.raw disk.qcow2 && rm disk.raw
"$sendense" -r repo init >/dev/null
qemu-nbd -r -f qcow2 -t -k "$work/nbd.sock" disk.qcow2 &
while [ ! -S "$work/nbd.sock" ]; do sleep 0.05; done
uri="nbd+unix:///?socket=$work/nbd.sock"
"$sendense" -r repo vm add bench --disk "sda=$uri" >/dev/null
"$sendense" -r repo backup --vm bench --disk "sda=$uri" >/dev/null
point=$(ls repo/vms/bench/sda/ | head -1)
point=${point%.qcow2}

mkdir mnt
"$sendense" -r repo serve --mount mnt --listen 127.0.0.1:0 2>serve.log &
for _ in $(seq 200); do
  base=$(grep -o 'http://127.0.0.1:[0-9]*' serve.log | head -1 || true)
  [ -n "$base" ] && [ -d "mnt/bench" ] && break
  sleep 0.05
done
[ -n "$base" ] || { echo "serve did not start" >&2; cat serve.log >&2; exit 1; }
auth="Authorization: Bearer $(cat repo/api-token)"
api=$base/api/v1

# The list endpoints under wrk with credential header $1 (named $2),
# after a 2 s warm-up of each (connections, caches, the point's appliance
# for the folder), so that a build's first figures do not carry it.
lists() {
  for path in /vms /backups /jobs "/backups/bench/$point" \
              "/backups/bench/$point/files/sda1/folder"; do
    wrk -t2 -c64 -d2s -H "$1" "$api$path" >/dev/null
  done
  echo "== wrk -t2 -c64 -d${duration}s --latency, $2 ($sendense)"
  printf '%-44s %10s %8s %8s %8s\n' endpoint 'req/s' p50 p90 p99
  for path in /vms /backups /jobs "/backups/bench/$point" \
              "/backups/bench/$point/files/sda1/folder"; do
    test "$(curl -s -o /dev/null -w '%{http_code}' -H "$1" "$api$path")" = 200
    out=$(wrk -t2 -c64 -d"${duration}s" --latency -H "$1" "$api$path")
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    pct() { awk -v p="$1%" '$1 == p {print $2}' <<<"$out"; }
    errors=$(grep -E 'Non-2xx|Socket errors' <<<"$out" || true)
    path_shown=${path//$point/POINT}
    printf '%-44s %10s %8s %8s %8s %s\n' "$path_shown" "$rps" "$(pct 50)" "$(pct 90)" "$(pct 99)" "$errors"
  done
}
lists "$auth" "the appliance token"
# A user's token (looked up by its hash in the catalog on every request,
# its role and visibility checked): where the binary has users.
if echo 'bench-password' | "$sendense" -r repo user add ops --role operator >/dev/null 2>&1; then
  user_token=$("$sendense" -r repo token create --user ops --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
  echo
  lists "Authorization: Bearer $user_token" "a user's token"
fi

# API_BENCH_LISTS_ONLY=1: only the endpoints (builds compared side by side).
[ -z "${API_BENCH_LISTS_ONLY:-}" ] || exit 0

file=mnt/bench/$point/files/sda1/big/file.bin
url=$api/backups/bench/$point/download/sda1/big/file.bin
drop() { python3 -c 'import os,sys; fd=os.open(sys.argv[1],os.O_RDONLY); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED)' "$1"; }
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
tree_read() { drop "$file"; cat "$file"; }
http_read() { curl -sf -H "$auth" "$url"; }
echo
echo "== 256 MiB guest file: HTTP download vs read from the tree (MB/s)"
secs tree_read >/dev/null  # starts the appliance
cmp <(http_read) "$file"
printf '%-6s %10s %10s %7s\n' round tree http ratio
for round in 1 2 3; do
  t_tree=$(secs tree_read)
  t_http=$(secs http_read)
  mb=268.435456
  printf '%-6s %10.0f %10.0f %6.2fx\n' "$round" "$(echo "$mb / $t_tree" | bc -l)" \
    "$(echo "$mb / $t_http" | bc -l)" "$(echo "$t_tree / $t_http" | bc -l)"
done
