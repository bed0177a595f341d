#!/usr/bin/env bash
# Backup benchmark, side by side in one run on the same export:
#   full backup of a 4 GiB disk (half random data, half holes) served by
#   qemu-nbd over a unix socket: `sendense backup` vs `qemu-img convert -O
#   qcow2` vs `nbdcopy` to a raw file; then an incremental after 1% of the
#   disk changed, through a persistent dirty bitmap. Best of 3 runs each;
#   peak memory from GNU time.
#
# Usage: tests/bench/backup_bench.sh [WORKDIR] [SIZE_GIB]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
sendense=${SENDENSE:-$here/build/cli/sendense}
work=${1:-/var/tmp}/sendense-backup-bench
size_gib=${2:-4}
rm -rf "$work" && mkdir -p "$work" && cd "$work"
trap 'kill $(jobs -p) 2>/dev/null || true; cd /; rm -rf "$work"' EXIT

stripes=$((size_gib * 1024 / 64))
head -c 64M /dev/urandom > random.bin
qemu-img create -q -f qcow2 disk.qcow2 "${size_gib}G"
writes=()
for ((i = 0; i < stripes; i += 2)); do
  writes+=(-c "write -q -s random.bin $((i * 64))M 64M")
done
qemu-io -f qcow2 "${writes[@]}" disk.qcow2
qemu-img bitmap --add disk.qcow2 b0

sock=$work/nbd.sock
serve() {
  qemu-nbd -f qcow2 -r -e 8 -t -k "$sock" -B b0 disk.qcow2 &
  while [ ! -S "$sock" ]; do sleep 0.05; done
}
stop() { kill %1; wait %1 2>/dev/null || true; rm -f "$sock"; }
uri="nbd+unix:///?socket=$sock"

best() {  # best of 3 wall-clock seconds of "$@"
  local best=999999 t0 t1 d
  for _ in 1 2 3; do
    eval "$PREPARE"
    t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N)
    d=$(echo "$t1 - $t0" | bc -l)
    best=$(echo "if ($d < $best) $d else $best" | bc -l)
  done
  printf '%.2f' "$best"
}
peak_mib() {
  eval "$PREPARE"
  /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%d", $1/1024}'
}

serve
PREPARE='rm -rf repo out.qcow2 out.raw; '"$sendense"' -r repo init >/dev/null'
t_ours=$(best "$sendense" -r repo backup --no-index --vm bench --disk "sda=$uri")
mem_ours=$(peak_mib "$sendense" -r repo backup --no-index --vm bench --disk "sda=$uri")
t_qemu=$(best qemu-img convert -t writeback -f raw -O qcow2 "$uri" out.qcow2)
t_copy=$(best sh -c "nbdcopy '$uri' out.raw && sync -f out.raw")
mem_copy=$(peak_mib nbdcopy "$uri" out.raw)

# Incremental: keep one full, change 1% of the disk, back up again.
PREPARE='rm -rf repo; '"$sendense"' -r repo init >/dev/null; '"$sendense"' -r repo backup --no-index --vm bench --disk "sda='"$uri"'" >/dev/null'
eval "$PREPARE"
stop
qemu-io -f qcow2 -c "write -q -s random.bin 0 $((size_gib * 1024 * 1024 * 1024 / 100))" disk.qcow2
serve
PREPARE='rm -rf repo; '"$sendense"' -r repo init >/dev/null; '"$sendense"' -r repo backup --no-index --vm bench --disk "sda='"$uri"'" >/dev/null'
t_incr=$(best "$sendense" -r repo backup --no-index --vm bench --bitmap b0 --disk "sda=$uri")
stop

# Peak memory does not grow with the disk: a 1 TiB disk with 0.1% data.
nbdkit -f -U "$work/big.sock" sparse-random 1T percent=0.1 &
while [ ! -S "$work/big.sock" ]; do sleep 0.05; done
rm -rf repo && "$sendense" -r repo init >/dev/null
mem_big=$(/usr/bin/time -f '%M' "$sendense" -r repo backup --no-index --vm big \
  --disk "sda=nbd+unix:///?socket=$work/big.sock" 2>&1 >/dev/null | tail -1 |
  awk '{printf "%d", $1/1024}')
kill %2 2>/dev/null || true

ratio() { echo "scale=2; $1 / $2" | bc -l; }
echo "full backup of a ${size_gib} GiB disk (half data, half holes) from qemu-nbd (unix socket):"
echo "  sendense backup           ${t_ours} s   peak RSS ${mem_ours} MiB"
echo "  qemu-img convert -O qcow2 ${t_qemu} s   sendense is $(ratio "$t_qemu" "$t_ours")x faster"
echo "  nbdcopy to raw (+sync)    ${t_copy} s   peak RSS ${mem_copy} MiB   sendense is $(ratio "$t_copy" "$t_ours")x faster"
echo "  1 TiB sparse disk (nbdkit sparse-random, 0.1% data): peak RSS ${mem_big} MiB"
echo "incremental after 1% of the disk changed (dirty bitmap):"
echo "  sendense backup --bitmap  ${t_incr} s   = $(echo "scale=1; 100 * $t_incr / $t_ours" | bc -l)% of the full"
