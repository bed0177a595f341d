#!/usr/bin/env bash
# Guest files benchmark, side by side in one run on the same point: a disk
# with an ext4 partition holding 20,000 small files and one 256 MiB file,
# backed up (and indexed) by sendense, then
#   listing: `find -printf` with stat of every file (cold = first access,
#            appliance launch included for guestmount; warm = again),
#   reading the 256 MiB file (cold = first read, appliance launch
#            included for both; warm = again, page cache dropped),
# through `sendense mount` and through `guestmount --ro` of the same QCOW2
# point. Both run libguestfs with the same backend settings.
#
# Usage: tests/bench/guest_bench.sh [WORKDIR]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
sendense=${SENDENSE:-$here/build/cli/sendense}
work=${1:-/var/tmp}/sendense-guest-bench
rm -rf "$work" && mkdir -p "$work" && cd "$work"
cleanup() {
  for m in "$work"/mnt-*; do fusermount3 -u -z "$m" 2>/dev/null || true; done
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  cd / && rm -rf "$work"
}
trap cleanup EXIT
export LIBGUESTFS_BACKEND=direct

mkdir -p guest/big
for d in $(seq 0 199); do
  mkdir -p "guest/tree/d$d"
  for f in $(seq 0 99); do echo "file $d/$f" >"guest/tree/d$d/f$f.txt"; done
done
head -c 256M /dev/urandom >guest/big/file.bin
truncate -s 1G disk.raw
echo 'start=2048, type=83' | sfdisk -q disk.raw
mkfs.ext4 -q -F -d guest -E offset=1048576 disk.raw 1023M
qemu-img convert -f raw -O qcow2 disk.raw disk.qcow2 && rm disk.raw
"$sendense" -r repo init >/dev/null
qemu-nbd -r -f qcow2 -t -k "$work/nbd.sock" disk.qcow2 &
while [ ! -S "$work/nbd.sock" ]; do sleep 0.05; done
"$sendense" -r repo backup --vm bench --disk "sda=nbd+unix:///?socket=$work/nbd.sock" >/dev/null
kill %1
point=$(ls repo/vms/bench/sda/*.qcow2 | head -1)
# The same backend for guestmount as sendense decided (KVM or TCG).
verdict=$(cat /var/tmp/sendense-kvm-"$(cat /proc/sys/kernel/random/boot_id)" 2>/dev/null || echo kvm)
if [ -z "${LIBGUESTFS_BACKEND_SETTINGS:-}" ] && [ "${verdict#tcg}" != "$verdict" ]; then
  export LIBGUESTFS_BACKEND_SETTINGS=force_tcg
fi

secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
list() { find "$1" -printf '%s %m %T@ %p\n' | wc -l; }
drop() { python3 -c 'import os,sys; fd=os.open(sys.argv[1],os.O_RDONLY); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED)' "$1"; }
read_file() { drop "$1"; cat "$1" >/dev/null; }
fmt() { printf '%.2f' "$1"; }

mkdir -p mnt-sendense mnt-guestmount
sync; echo 3 >/proc/sys/vm/drop_caches
t_mount_ours=$(secs "$sendense" -r repo mount mnt-sendense)
fs=mnt-sendense/bench/latest/files/sda1
t_list_cold_ours=$(secs list "$fs")  # first access after mounting: cold
t_list_warm_ours=$(secs list "$fs")
n_ours=$(list "$fs")
t_read_cold_ours=$(secs read_file "$fs/big/file.bin")
t_read_warm_ours=$(secs read_file "$fs/big/file.bin")
fusermount3 -u mnt-sendense

t0=$(date +%s.%N)
guestmount --format=qcow2 -a "$point" --ro -m /dev/sda1 mnt-guestmount
t_list_cold_gm=$(secs list mnt-guestmount)
t1=$(date +%s.%N)
t_list_cold_gm=$(echo "$t1 - $t0" | bc -l)  # launch + first listing
n_gm=$(list mnt-guestmount)
t_list_warm_gm=$(secs list mnt-guestmount)
t_read_first_gm=$(secs read_file mnt-guestmount/big/file.bin)
t_read_warm_gm=$(secs read_file mnt-guestmount/big/file.bin)
fusermount3 -u mnt-guestmount
# guestmount's cold read includes a launch: measure it on a fresh mount.
t0=$(date +%s.%N)
guestmount --format=qcow2 -a "$point" --ro -m /dev/sda1 mnt-guestmount
read_file mnt-guestmount/big/file.bin
t1=$(date +%s.%N)
t_read_cold_gm=$(echo "$t1 - $t0" | bc -l)
fusermount3 -u mnt-guestmount

ratio() { echo "scale=1; $1 / $2" | bc -l; }
echo "guest files of one point: ${n_ours} entries (guestmount sees ${n_gm}), a 256 MiB file"
echo "backend: ${LIBGUESTFS_BACKEND_SETTINGS:-kvm}"
printf '  %-34s %8s s %12s s %8s\n' "" sendense guestmount ratio
printf '  %-34s %8s s %12s s %7sx\n' "listing+stat, cold (incl. launch)" "$(fmt "$t_list_cold_ours")" "$(fmt "$t_list_cold_gm")" "$(ratio "$t_list_cold_gm" "$t_list_cold_ours")"
printf '  %-34s %8s s %12s s %7sx\n' "listing+stat, warm" "$(fmt "$t_list_warm_ours")" "$(fmt "$t_list_warm_gm")" "$(ratio "$t_list_warm_gm" "$t_list_warm_ours")"
printf '  %-34s %8s s %12s s %7sx\n' "256 MiB read, cold (incl. launch)" "$(fmt "$t_read_cold_ours")" "$(fmt "$t_read_cold_gm")" "$(ratio "$t_read_cold_gm" "$t_read_cold_ours")"
printf '  %-34s %8s s %12s s %7sx\n' "256 MiB read, warm" "$(fmt "$t_read_warm_ours")" "$(fmt "$t_read_warm_gm")" "$(ratio "$t_read_warm_gm" "$t_read_warm_ours")"
echo "  (sendense mount itself: $(fmt "$t_mount_ours") s; guestmount's first read on its running appliance: $(fmt "$t_read_first_gm") s)"
