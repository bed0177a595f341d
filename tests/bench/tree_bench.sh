#!/usr/bin/env bash
# Tree benchmark, side by side in one run on the same chain: reads of a
# 4 GiB disk through `sendense mount`, through nbdfuse over qemu-nbd, and
# through qemu-storage-daemon's FUSE export, at depth 1 (the full) and
# depth 30 (the 30th point of the chain):
#   sequential 1 MiB reads of the whole disk (MB/s, best of 3),
#   random 4 KiB reads at queue depth 1 and 16 (16 threads), 10 s (IOPS),
#   with O_DIRECT so that every read reaches the daemon (no page cache hits).
# Sequential reads are buffered (what cp, rsync and qemu-img do), with
# invalidate=1: the page cache of the file is dropped before each job. The
# QCOW2 files themselves are warm in the host page cache for every tool.
#
# Usage: tests/bench/tree_bench.sh [WORKDIR] [SIZE_GIB] [DEPTH]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
sendense=${SENDENSE:-$here/build/cli/sendense}
work=${1:-/var/tmp}/sendense-tree-bench
size_gib=${2:-4}
depth=${3:-30}
runtime=${RUNTIME:-10}
rm -rf "$work" && mkdir -p "$work" && cd "$work"
cleanup() {
  for m in "$work"/mnt-*; do fusermount3 -u -z "$m" 2>/dev/null || true; done
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  cd / && rm -rf "$work"
}
trap cleanup EXIT

# The chain: a full of half random data, half holes; then depth-1
# incrementals, each rewriting 1% of the disk in 64 KiB pieces spread over
# the whole disk, so that deep reads really walk the chain.
stripes=$((size_gib * 1024 / 64))
head -c 64M /dev/urandom >random.bin
qemu-img create -q -f qcow2 disk.qcow2 "${size_gib}G"
writes=()
for ((i = 0; i < stripes; i += 2)); do
  writes+=(-c "write -q -s random.bin $((i * 64))M 64M")
done
qemu-io -f qcow2 "${writes[@]}" disk.qcow2
qemu-img bitmap --add disk.qcow2 b0
"$sendense" -r repo init >/dev/null
sock=$work/nbd.sock
uri="nbd+unix:///?socket=$sock"
backup() {
  qemu-nbd -f qcow2 -r -e 8 -t -k "$sock" -B b0 disk.qcow2 &
  local pid=$!
  while [ ! -S "$sock" ]; do sleep 0.05; done
  "$sendense" -r repo backup --no-index --vm bench --bitmap b0 --disk "sda=$uri" >/dev/null 2>&1
  kill $pid && wait $pid 2>/dev/null || true
  rm -f "$sock"
}
backup
pieces=$((size_gib * 1024 * 1024 / 100 / 64))  # 1% in 64 KiB pieces
RANDOM=42
for ((p = 2; p <= depth; p++)); do
  writes=()
  for ((i = 0; i < pieces; i++)); do
    off=$(((RANDOM * 32768 + RANDOM) % (size_gib * 1024 * 16)))
    writes+=(-c "write -q -s random.bin $((off * 64))k 64k")
  done
  qemu-io -f qcow2 "${writes[@]}" disk.qcow2
  sleep 1  # distinct point names are not needed, but keep times apart
  backup
done
mapfile -t points < <("$sendense" -r repo list --json |
  python3 -c 'import json,sys; [print(b["points"][0]["file"]) for b in json.load(sys.stdin)["vms"][0]["backups"]]')
mapfile -t names < <("$sendense" -r repo list --json |
  python3 -c 'import json,sys; [print(b["name"]) for b in json.load(sys.stdin)["vms"][0]["backups"]]')
cat repo/vms/bench/sda/*.qcow2 >/dev/null  # warm for everyone
sync && sleep 2  # no writeback of the chain while measuring

fio_seq() {  # MB/s, best of 3 (a fresh sendense mount for each when $3 is set)
  for _ in 1 2 3; do
    [ -z "${3:-}" ] || remount
    fio --name=seq --filename="$1" --readonly --rw=read --bs=1M --size="${size_gib}G" \
      --ioengine=psync --invalidate=1 --output-format=json |
      python3 -c 'import json,sys; print("%.0f" % (json.load(sys.stdin)["jobs"][0]["read"]["bw_bytes"]/1e6))'
  done | sort -n | tail -1
}
fio_rand() {  # IOPS at $2 threads
  fio --name=rand --filename="$1" --readonly --rw=randread --bs=4k --size="${size_gib}G" \
    --ioengine=psync --direct=1 --numjobs="$2" --group_reporting \
    --time_based --runtime="$runtime" --randseed=7 --output-format=json |
    python3 -c 'import json,sys; print("%.0f" % json.load(sys.stdin)["jobs"][0]["read"]["iops"])'
}
measure() {  # label file [remount: a fresh sendense mount for each job]
  local seq r1 r16
  seq=$(fio_seq "$2" "" "${3:-}")
  [ -z "${3:-}" ] || remount
  r1=$(fio_rand "$2" 1)
  [ -z "${3:-}" ] || remount
  r16=$(fio_rand "$2" 16)
  printf '  %-30s %8s MB/s %10s IOPS %10s IOPS\n' "$1" "$seq" "$r1" "$r16"
}
# The tree checks each stored cluster against its digest the first time a
# mount reads it: each sequential run gets a fresh mount so that every run
# pays for the checks; the same chain with its digests moved aside is the
# unchecked baseline.
remount() {
  fusermount3 -u mnt-sendense 2>/dev/null || true
  "$sendense" -r repo mount mnt-sendense
}
hide_digests() { for f in repo/vms/bench/sda/*.sums; do mv "$f" "$f.hidden"; done; }
show_digests() { for f in repo/vms/bench/sda/*.sums.hidden; do mv "$f" "${f%.hidden}"; done; }

mkdir -p mnt-sendense mnt-nbdfuse
"$sendense" -r repo mount mnt-sendense
ra=$(cat /sys/class/bdi/"$(stat -c '%Hd:%Ld' mnt-sendense)"/read_ahead_kb 2>/dev/null || echo '?')

echo "reads of a ${size_gib} GiB disk (half data), sequential 1 MiB / random 4 KiB qd1 / qd16"
for d in 1 "$depth"; do
  top=${points[$((d - 1))]}
  echo "depth $d ($top):"
  tree="mnt-sendense/bench/${names[$((d - 1))]}/disks/sda.raw"
  remount
  measure "sendense mount (checked)" "$tree" remount
  hide_digests
  remount
  measure "sendense, digests moved aside" "$tree" remount
  show_digests

  qemu-nbd -f qcow2 -r -e 16 -t -k "$sock" "repo/$top" &
  qnbd=$!
  while [ ! -S "$sock" ]; do sleep 0.05; done
  nbdfuse -r -P nbdfuse.pid mnt-nbdfuse "$uri" &
  while [ ! -s nbdfuse.pid ]; do sleep 0.05; done
  measure "nbdfuse + qemu-nbd" mnt-nbdfuse/nbd
  fusermount3 -u mnt-nbdfuse && rm -f nbdfuse.pid
  kill $qnbd && wait $qnbd 2>/dev/null || true
  rm -f "$sock"

  touch qsd.raw
  qemu-storage-daemon \
    --blockdev "driver=file,node-name=f0,filename=repo/$top,read-only=on" \
    --blockdev driver=qcow2,node-name=d0,file=f0,read-only=on \
    --export type=fuse,id=e0,node-name=d0,mountpoint="$work/qsd.raw",writable=off \
    --pidfile "$work/qsd.pid" &
  qsd=$!
  while [ ! -s qsd.pid ]; do sleep 0.05; done
  sleep 0.2
  measure "qemu-storage-daemon" qsd.raw
  kill $qsd && wait $qsd 2>/dev/null || true
  rm -f qsd.pid
done
fusermount3 -u mnt-sendense
echo "sendense: single FUSE loop thread + 4 read workers; read-ahead ${ra} KiB, max_read 1 MiB"
echo "peers: defaults (nbdfuse multi-threaded, multi-conn; qemu-storage-daemon FUSE export)"
