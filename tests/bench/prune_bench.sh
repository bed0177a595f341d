#!/usr/bin/env bash
# Prune benchmark, side by side in one run on the same chain:
#   a disk of SIZE_GIB (half random data, half holes) backed up 30 times by
#   `sendense backup` over qemu-nbd with a dirty bitmap, each incremental
#   after 1% of the disk (or CHANGE_MIB) was rewritten at a random place
#   with random data; then the 10
#   oldest points are dropped one after another:
#     sendense: `prune --keep-last 20` (merges each into its child in place)
#     qemu:     on a copy of the same files, for each: `qemu-img commit -d`
#               of the child into the oldest, then `mv` the oldest over the
#               child (the same end state: a plain chain of 20 files).
#   Reported: seconds for the 10 drops, the ratio, the data merged, and the
#   repository's allocated size before and after. Both end states are
#   checked with `qemu-img compare` against the chain before (the oldest
#   point kept and the newest) and `qemu-img check`.
#
# Usage: tests/bench/prune_bench.sh [WORKDIR] [SIZE_GIB] [POINTS] [DROP]
#                                   [CHANGE_MIB (default: 1% of the disk)]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
sendense=${SENDENSE:-$here/build/cli/sendense}
work=${1:-/var/tmp}/sendense-prune-bench
size_gib=${2:-4}
points=${3:-30}
drop=${4:-10}
change_mib=${5:-$((size_gib * 1024 / 100))}
rm -rf "$work" && mkdir -p "$work" && cd "$work"
trap 'kill $(jobs -p) 2>/dev/null || true; cd /; rm -rf "$work"' EXIT

stripes=$((size_gib * 1024 / 64))
head -c "$((change_mib > 64 ? change_mib : 64))M" /dev/urandom > random.bin
qemu-img create -q -f qcow2 disk.qcow2 "${size_gib}G"
writes=()
for ((i = 0; i < stripes; i += 2)); do
  writes+=(-c "write -q -s random.bin $((i * 64))M 64M")  # its first 64M
done
qemu-io -f qcow2 "${writes[@]}" disk.qcow2
qemu-img bitmap --add disk.qcow2 b0

sock=$work/nbd.sock
uri="nbd+unix:///?socket=$sock"
backup() {
  qemu-nbd -f qcow2 -r -e 8 -t -k "$sock" -B b0 disk.qcow2 &
  while [ ! -S "$sock" ]; do sleep 0.05; done
  "$sendense" -r repo backup --no-index --vm bench --disk "sda=$uri" \
    --bitmap b0 >/dev/null
  kill %1; wait %1 2>/dev/null || true; rm -f "$sock"
  # Changes from now on only: each incremental holds its own 1%.
  qemu-img bitmap --clear disk.qcow2 b0
}

"$sendense" -r repo init >/dev/null
backup
for ((p = 1; p < points; p++)); do
  at=$(( (RANDOM * 32768 + RANDOM) % (size_gib * 1024 - change_mib) ))
  qemu-io -f qcow2 -c "write -q -s random.bin ${at}M ${change_mib}M" \
    disk.qcow2
  backup
  sleep 1  # distinct point names (one per second)
done

files=$(find repo/vms -name '*.qcow2' | sort)
mkdir -p peer before
for f in $files; do cp --sparse=always "$f" peer/; done
# What the points that stay must read as afterwards: the oldest kept (it
# receives the merges) and the newest (reads through the whole chain).
keep=$(echo "$files" | sed -n "$((drop + 1))p;\$p")
for f in $keep; do
  qemu-img convert -f qcow2 -O raw "$f" "before/$(basename "$f").raw"
done
sync

bytes() { du -s -B1 "$1" | cut -f1; }
size_before=$(bytes repo/vms)
t0=$(date +%s.%N)
"$sendense" -r repo prune --vm bench --keep-last $((points - drop)) --json \
  > prune.json
t1=$(date +%s.%N)
t_ours=$(echo "$t1 - $t0" | bc -l)
size_after=$(bytes repo/vms)
merged=$(python3 -c 'import json,sys; print(json.load(open("prune.json"))["prunes"][0]["merged_bytes"])')

peer_before=$(bytes peer)
cd peer
chain=($(ls | sort))
t0=$(date +%s.%N)
for ((i = 0; i < drop; i++)); do
  qemu-img commit -q -d -f qcow2 "${chain[i + 1]}"
  mv "${chain[i]}" "${chain[i + 1]}"
  sync -f "${chain[i + 1]}"
done
t1=$(date +%s.%N)
cd ..
t_qemu=$(echo "$t1 - $t0" | bc -l)
peer_after=$(bytes peer)

for f in $keep; do
  qemu-img compare -q -f qcow2 -F raw "$f" "before/$(basename "$f").raw"
  qemu-img compare -q -f qcow2 -F raw "peer/$(basename "$f")" \
    "before/$(basename "$f").raw"
  qemu-img check -q "$f"
done

mib() { echo "scale=0; $1 / 1048576" | bc -l; }
printf 'prune_bench: %s GiB disk, %d points, each rewriting %d MiB; dropping the %d oldest\n' \
  "$size_gib" "$points" "$change_mib" "$drop"
printf '  sendense prune:            %6.2f s  (merged %s MiB; repository %s -> %s MiB)\n' \
  "$t_ours" "$(mib "$merged")" "$(mib "$size_before")" "$(mib "$size_after")"
printf '  qemu-img commit + mv:      %6.2f s  (copy %s -> %s MiB)\n' \
  "$t_qemu" "$(mib "$peer_before")" "$(mib "$peer_after")"
printf '  ratio (qemu / sendense):   %6.2fx\n' "$(echo "$t_qemu / $t_ours" | bc -l)"
