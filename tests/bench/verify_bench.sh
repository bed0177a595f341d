#!/usr/bin/env bash
# Verify benchmark, side by side in one run on the same chain:
#   a 4 GiB disk (half random data, half holes) backed up 30 times by
#   `sendense backup` (each incremental after 1% was rewritten), then
#     sendense: `verify` of every point (structure, and every stored
#               cluster against its digest)
#     peer:     `qemu-img check` of every point plus `qemu-img compare` of
#               the newest point against a raw copy saved at backup time
#   with the page cache dropped before each, and the disk's sequential
#   read speed (`dd iflag=direct`) for reference.
#
# Usage: tests/bench/verify_bench.sh [WORKDIR] [SIZE_GIB] [POINTS]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
sendense=${SENDENSE:-$here/build/cli/sendense}
work=${1:-/var/tmp}/sendense-verify-bench
size_gib=${2:-4}
points=${3:-30}
rm -rf "$work" && mkdir -p "$work" && cd "$work"
trap 'kill $(jobs -p) 2>/dev/null || true; cd /; rm -rf "$work"' EXIT

source "$here/tests/bench/chain.sh"
make_chain
qemu-img convert -f qcow2 -O raw disk.qcow2 newest.raw
files=$(find repo/vms -name '*.qcow2' | sort)
newest=$(echo "$files" | tail -1)
stored=$(du -cb $files | tail -1 | cut -f1)

drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
drop
t0=$(date +%s.%N)
"$sendense" -r repo verify --json > verify.json
t1=$(date +%s.%N)
t_ours=$(echo "$t1 - $t0" | bc -l)
read_ours=$(python3 -c 'import json; print(json.load(open("verify.json"))["bytes_read"])')

drop
t0=$(date +%s.%N)
for f in $files; do qemu-img check -q "$f"; done
qemu-img compare -q -f qcow2 -F raw "$newest" newest.raw
t1=$(date +%s.%N)
t_peer=$(echo "$t1 - $t0" | bc -l)

drop
disk=$(dd if=newest.raw of=/dev/null bs=4M iflag=direct 2>&1 | tail -1 |
       awk '{print $(NF-1), $NF}')

printf 'verify_bench: %s GiB disk, %d points (%d MiB stored)\n' \
  "$size_gib" "$points" $((stored / 1048576))
printf '  sendense verify (every point, every cluster): %6.2f s, %d MiB read, %.0f MB/s\n' \
  "$t_ours" $((read_ours / 1048576)) "$(echo "$read_ours / $t_ours / 1000000" | bc -l)"
printf '  qemu-img check x%d + compare of the newest:  %6.2f s\n' \
  "$points" "$t_peer"
printf '  ratio (peer / sendense):                     %6.2fx\n' \
  "$(echo "$t_peer / $t_ours" | bc -l)"
printf '  the disk, dd iflag=direct:                   %s\n' "$disk"
