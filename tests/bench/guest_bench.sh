#!/usr/bin/env bash
# Guest files benchmark, side by side in one run on the same point: a disk
# with an ext4 partition holding 20,000 small files and one 256 MiB file,
# backed up (and indexed) by sendense, then
#   listing: `find -printf` with stat of every file (cold = first access,
#            appliance launch included for guestmount; warm = again),
#   reading the 256 MiB file and a folder of 2,000 small files (cold = a
#            fresh mount, caches dropped, no appliance running: its launch
#            included where one is needed; warm = again, the files' page
#            cache dropped),
# through `sendense mount` (extent-mapped reads straight from the chain),
# the same mount reading through the appliance as before extent maps
# (SENDENSE_GUEST_READS=appliance), `guestmount --ro` of the same QCOW2
# point, and `cat` of the same disk ranges from disks/sda.raw in the tree.
# Also: indexing time of the point with and without extent maps. All run
# libguestfs with the same backend settings.
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

name=$("$sendense" -r repo list --vm bench --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["vms"][0]["backups"][0]["name"])')
t_index_plain=$(secs env SENDENSE_EXTENTS_HELPER=/nonexistent "$sendense" -r repo index --vm bench --point "$name")
t_index_maps=$(secs "$sendense" -r repo index --vm bench --point "$name")
mapped=$("$sendense" -r repo index --stats --vm bench --point "$name" | tail -1)

small() { ls "$1"/tree/d1[0-9]/* "$1"/tree/d[2-9]/* "$1"/tree/d1/* | head -2000; }
# The files' page cache dropped, then each read once, in one process.
read_small() {
  small "$1" | python3 -c '
import os, sys
names = sys.stdin.read().split("\n")[:-1]
for n in names:
    fd = os.open(n, os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)
for n in names:
    with open(n, "rb") as f: f.read()
'
}
cold() { sync; echo 3 >/proc/sys/vm/drop_caches; }
# The disk ranges of the big file, from its extent map, read from the raw
# disk in the tree.
ranges=$(sqlite3 repo/catalog.db "SELECT hex(f.extents) FROM guest_files f JOIN guest_filesystems g ON g.id = f.fs_id JOIN backups b ON b.id = g.backup_id WHERE b.name = '$name' AND f.path = '/big/file.bin'")
read_ranges() {
  python3 - "$1" "$ranges" <<'PY'
import os, struct, sys
raw, blob = sys.argv[1], bytes.fromhex(sys.argv[2])
fd = os.open(raw, os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
for i in range(0, len(blob), 32):
    fo, n, at, disk, flags = struct.unpack_from('<QQQII', blob, i)
    while n > 0:
        got = os.pread(fd, min(n, 1 << 20), at)
        at += len(got); n -= len(got)
PY
}

mkdir -p mnt-sendense mnt-appliance mnt-guestmount
cold
t_mount_ours=$(secs "$sendense" -r repo mount mnt-sendense)
fs=mnt-sendense/bench/latest/files/sda1
t_list_cold_ours=$(secs list "$fs")  # first access after mounting: cold
t_list_warm_ours=$(secs list "$fs")
n_ours=$(list "$fs")
t_read_cold_ours=$(secs read_file "$fs/big/file.bin")
t_read_warm_ours=$(secs read_file "$fs/big/file.bin")
t_raw_warm=$(secs read_ranges mnt-sendense/bench/latest/disks/sda.raw)
fusermount3 -u mnt-sendense
cold
"$sendense" -r repo mount mnt-sendense
t_small_cold_ours=$(secs read_small "$fs")
t_small_warm_ours=$(secs read_small "$fs")
fusermount3 -u mnt-sendense

# The appliance path of the same point (as before extent maps).
afs=mnt-appliance/bench/latest/files/sda1
cold
SENDENSE_GUEST_READS=appliance "$sendense" -r repo mount mnt-appliance
t_read_cold_app=$(secs read_file "$afs/big/file.bin")
t_read_warm_app=$(secs read_file "$afs/big/file.bin")
fusermount3 -u mnt-appliance
cold
SENDENSE_GUEST_READS=appliance "$sendense" -r repo mount mnt-appliance
t_small_cold_app=$(secs read_small "$afs")
t_small_warm_app=$(secs read_small "$afs")
fusermount3 -u mnt-appliance

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
# guestmount's cold reads include a launch: measure them on fresh mounts.
cold
t0=$(date +%s.%N)
guestmount --format=qcow2 -a "$point" --ro -m /dev/sda1 mnt-guestmount
read_file mnt-guestmount/big/file.bin
t1=$(date +%s.%N)
t_read_cold_gm=$(echo "$t1 - $t0" | bc -l)
fusermount3 -u mnt-guestmount
cold
t0=$(date +%s.%N)
guestmount --format=qcow2 -a "$point" --ro -m /dev/sda1 mnt-guestmount
read_small mnt-guestmount
t1=$(date +%s.%N)
t_small_cold_gm=$(echo "$t1 - $t0" | bc -l)
t_small_warm_gm=$(secs read_small mnt-guestmount)
fusermount3 -u mnt-guestmount

ratio() { echo "scale=1; $1 / $2" | bc -l; }
echo "guest files of one point: ${n_ours} entries (guestmount sees ${n_gm}), a 256 MiB file"
echo "backend: ${LIBGUESTFS_BACKEND_SETTINGS:-kvm}"
printf '  %-34s %8s s %12s s %8s\n' "" sendense guestmount ratio
printf '  %-34s %8s s %12s s %7sx\n' "listing+stat, cold (incl. launch)" "$(fmt "$t_list_cold_ours")" "$(fmt "$t_list_cold_gm")" "$(ratio "$t_list_cold_gm" "$t_list_cold_ours")"
printf '  %-34s %8s s %12s s %7sx\n' "listing+stat, warm" "$(fmt "$t_list_warm_ours")" "$(fmt "$t_list_warm_gm")" "$(ratio "$t_list_warm_gm" "$t_list_warm_ours")"
echo "reads (sendense: extent-mapped; appliance: the same mount reading through libguestfs as before; ratios are theirs / ours)"
printf '  %-34s %8s s %10s s %12s s %8s %8s\n' "" sendense appliance guestmount "vs app" "vs gm"
row() { printf '  %-34s %8s s %10s s %12s s %7sx %7sx\n' "$1" "$(fmt "$2")" "$(fmt "$3")" "$(fmt "$4")" "$(ratio "$3" "$2")" "$(ratio "$4" "$2")"; }
row "256 MiB read, cold (incl. launch)" "$t_read_cold_ours" "$t_read_cold_app" "$t_read_cold_gm"
row "256 MiB read, warm" "$t_read_warm_ours" "$t_read_warm_app" "$t_read_warm_gm"
row "2,000 small files, cold" "$t_small_cold_ours" "$t_small_cold_app" "$t_small_cold_gm"
row "2,000 small files, warm" "$t_small_warm_ours" "$t_small_warm_app" "$t_small_warm_gm"
echo "  the same 256 MiB as disk ranges of disks/sda.raw in the tree, warm: $(fmt "$t_raw_warm") s; mapped warm read at $(echo "scale=0; 100 * $t_raw_warm / $t_read_warm_ours" | bc -l)% of the raw tree's rate"
echo "  indexing the point: $(fmt "$t_index_maps") s with extent maps, $(fmt "$t_index_plain") s without ($(echo "scale=0; 100 * $t_index_maps / $t_index_plain - 100" | bc -l)%)"
echo "  $mapped"
echo "  (sendense mount itself: $(fmt "$t_mount_ours") s; guestmount's first read on its running appliance: $(fmt "$t_read_first_gm") s)"
