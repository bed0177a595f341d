#!/usr/bin/env bash
# Restore and export benchmark, side by side in one run on the same chain:
#   a 4 GiB disk (half random data in 64 MiB stripes, half holes) backed up
#   30 times by `sendense backup` (each incremental after 1% was
#   rewritten); the newest point is then
#   - restored to a local file:   sendense restore --to FILE
#                                  vs qemu-img convert -O raw, nbdcopy
#   - restored to a writable qemu-nbd (a blank qcow2):
#                                  sendense restore --to nbd+unix://...
#                                  vs qemu-img convert -n -O raw, nbdcopy
#     (nbdcopy reads a read-only qemu-nbd export of the chain)
#   - an export's start, cold: `sendense export` (which checks every
#     stored cluster of the chain against its digests before serving)
#     until it answers, vs qemu-nbd serving the chain directly
#   - read through exports at random (4 KiB, fio's nbd engine, QD1 and
#     QD16, 10 s each): `sendense export` read-only and --writable (an
#     overlay on top) vs qemu-nbd serving the chain directly.
#   The page cache is dropped before each restore, and each is timed until
#   its data is on disk (`sync` after it: not every tool flushes); each
#   figure is the median of three runs.
#
# Usage: tests/bench/restore_bench.sh [WORKDIR] [SIZE_GIB] [POINTS]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
sendense=${SENDENSE:-$here/build/cli/sendense}
work=${1:-/var/tmp}/sendense-restore-bench
size_gib=${2:-4}
points=${3:-30}
rm -rf "$work" && mkdir -p "$work" && cd "$work"
trap 'pkill -f "$work/" 2>/dev/null || true; kill $(jobs -p) 2>/dev/null || true; cd /; rm -rf "$work"' EXIT

source "$here/tests/bench/chain.sh"
make_chain
newest=$(find repo/vms -name '*.qcow2' | sort | tail -1)
qemu-img convert -f qcow2 -O raw "$newest" oracle.raw

drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
secs() {  # command...: its wall time in seconds, until its data is on disk
  local t0 t1
  drop
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  sync
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}
median3() {  # command...: the median of three runs (shared disks are noisy)
  local a b c
  a=$("$@"); b=$("$@"); c=$("$@")
  printf '%s\n' "$a" "$b" "$c" | sort -g | sed -n 2p
}
check() {  # image: it must equal the point
  qemu-img compare -q -U "$1" oracle.raw || { echo "MISMATCH: $1" >&2; exit 1; }
}
serve() {  # socket image [qemu-nbd options]: in the background
  local s=$1 image=$2
  shift 2
  rm -f "$s"
  qemu-nbd -t -e 8 -k "$s" "$@" "$image" &
  while [ ! -S "$s" ]; do sleep 0.05; done
}
stop_all() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; }
src=$work/src.sock
tgt=$work/tgt.sock
serve "$src" "$newest" -r -f qcow2

to_file() {  # command...: time to restore into out.raw, made anew
  rm -f out.raw
  secs "$@"
  check out.raw
}
f_ours=$(median3 to_file "$sendense" -r repo restore --vm bench --to out.raw)
f_qemu=$(median3 to_file qemu-img convert -f qcow2 -O raw "$newest" out.raw)
f_copy=$(median3 to_file nbdcopy "nbd+unix:///?socket=$src" out.raw)
rm -f out.raw

to_nbd() {  # command...: time to restore into a writable qemu-nbd on a blank qcow2
  rm -f tgt.qcow2
  qemu-img create -q -f qcow2 tgt.qcow2 "${size_gib}G"
  qemu-nbd -t -k "$tgt" -f qcow2 tgt.qcow2 &
  local pid=$!
  while [ ! -S "$tgt" ]; do sleep 0.05; done
  secs "$@"
  kill $pid; wait $pid 2>/dev/null || true; rm -f "$tgt"
  check tgt.qcow2
}
n_ours=$(median3 to_nbd "$sendense" -r repo restore --vm bench --to "nbd+unix:///?socket=$tgt")
n_qemu=$(median3 to_nbd qemu-img convert -n -f qcow2 -O raw "$newest" "nbd+unix:///?socket=$tgt")
n_copy=$(median3 to_nbd nbdcopy "nbd+unix:///?socket=$src" "nbd+unix:///?socket=$tgt")

field() { python3 -c "import json,sys; print(json.load(open('$1'))['$2'])"; }
# Starting an export, cold: the digest check of the chain is its cost.
export_start() {
  local t0 t1
  drop
  t0=$(date +%s.%N)
  "$sendense" -r repo export --vm bench --json >export.json 2>&1
  t1=$(date +%s.%N)
  "$sendense" -r repo unexport "$(field export.json id)" >/dev/null
  echo "$t1 - $t0" | bc -l
}
direct_start() {
  local t0 t1 s=$work/start.sock
  drop
  t0=$(date +%s.%N)
  qemu-nbd -t -e 8 -k "$s" -r -f qcow2 "$newest" &
  local pid=$!
  until nbdinfo --size "nbd+unix:///?socket=$s" >/dev/null 2>&1; do sleep 0.01; done
  t1=$(date +%s.%N)
  kill $pid; wait $pid 2>/dev/null || true; rm -f "$s"
  echo "$t1 - $t0" | bc -l
}
e_ours=$(median3 export_start)
e_direct=$(median3 direct_start)
chain_bytes=$(du -cb repo/vms/bench/sda/*.qcow2 | tail -1 | cut -f1)

# Random reads through exports.
iops() {  # uri depth
  fio --name=r --ioengine=nbd --uri="$1" --rw=randread --bs=4k \
    --iodepth="$2" --runtime=10 --time_based --size="${size_gib}G" \
    --output-format=json --output=fio.json >/dev/null 2>&1
  python3 -c 'import json; print(int(json.load(open("fio.json"))["jobs"][0]["read"]["iops"]))'
}
"$sendense" -r repo export --vm bench --json >ro.json
"$sendense" -r repo export --vm bench --writable --json >rw.json
ro=$(field ro.json uri)
rw=$(field rw.json uri)
declare -A r
for d in 1 16; do
  r[direct$d]=$(iops "nbd+unix:///?socket=$src" $d)
  r[ro$d]=$(iops "$ro" $d)
  r[rw$d]=$(iops "$rw" $d)
done
"$sendense" -r repo unexport "$(field ro.json id)" >/dev/null
"$sendense" -r repo unexport "$(field rw.json id)" >/dev/null
stop_all

mbs() { echo "$size_gib * 1073741824 / $1 / 1000000" | bc -l; }
printf 'restore_bench: %s GiB disk (half data), newest of %d points\n' "$size_gib" "$points"
printf '  to a file:    sendense %6.2f s (%5.0f MB/s)  qemu-img convert %6.2f s  nbdcopy %6.2f s\n' \
  "$f_ours" "$(mbs "$f_ours")" "$f_qemu" "$f_copy"
printf '                ratios: qemu-img/sendense %.2fx, nbdcopy/sendense %.2fx\n' \
  "$(echo "$f_qemu / $f_ours" | bc -l)" "$(echo "$f_copy / $f_ours" | bc -l)"
printf '  to qemu-nbd:  sendense %6.2f s (%5.0f MB/s)  qemu-img convert -n %6.2f s  nbdcopy %6.2f s\n' \
  "$n_ours" "$(mbs "$n_ours")" "$n_qemu" "$n_copy"
printf '                ratios: qemu-img/sendense %.2fx, nbdcopy/sendense %.2fx\n' \
  "$(echo "$n_qemu / $n_ours" | bc -l)" "$(echo "$n_copy / $n_ours" | bc -l)"
printf '  export start, cold: sendense export %.2f s (checks %s MB of chain, %.0f MB/s)  qemu-nbd direct %.2f s\n' \
  "$e_ours" "$((chain_bytes / 1000000))" "$(echo "$chain_bytes / $e_ours / 1000000" | bc -l)" "$e_direct"
printf '  export, random 4 KiB reads (IOPS): qemu-nbd direct / export / export --writable\n'
printf '                QD1  %7d / %7d / %7d\n' "${r[direct1]}" "${r[ro1]}" "${r[rw1]}"
printf '                QD16 %7d / %7d / %7d\n' "${r[direct16]}" "${r[ro16]}" "${r[rw16]}"
