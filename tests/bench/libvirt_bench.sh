#!/usr/bin/env bash
# libvirt benchmark, side by side in one run: a running TCG domain with a
# 4 GiB qcow2 disk (half random data), a full backup, then an incremental
# after 1% of the disk was rewritten through QEMU's block layer (as a
# guest's writes), by `sendense backup` (a plain QCOW2 chain the tree
# serves) and by `virtnbdbackup -l full` / `-l inc` (its own stream
# format), each into a directory on the same disk. Each tool gets its own
# domain on its own copy of the image, so that their checkpoints never
# meet. Needs root and a running libvirtd (tests start one; see
# docs/libvirt.md).
#
# Usage: tests/bench/libvirt_bench.sh [WORKDIR] [SIZE_GIB]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
sendense=${SENDENSE:-$here/build/cli/sendense}
work=${1:-/var/tmp}/sendense-libvirt-bench
size_gib=${2:-4}
virsh="virsh -q -c qemu:///system"
rm -rf "$work" && mkdir -p "$work" && chmod 755 "$work" && cd "$work"
cleanup() {
  for d in bench-sendense bench-virtnbdbackup; do
    $virsh destroy $d >/dev/null 2>&1 || true
    $virsh undefine $d --checkpoints-metadata >/dev/null 2>&1 || true
  done
  cd / && rm -rf "$work"
}
trap cleanup EXIT

# The disk: half random data in 64 MiB stripes, half holes.
head -c 64M /dev/urandom >random.bin
truncate -s "${size_gib}G" disk.raw
for ((i = 0; i < size_gib * 16; i += 2)); do
  dd if=random.bin of=disk.raw bs=1M seek=$((i * 64)) conv=notrunc status=none
done
qemu-img convert -f raw -O qcow2 disk.raw disk.qcow2 && rm disk.raw

start() {  # domain image
  cat >"$1.xml" <<XML
<domain type='qemu'><name>$1</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
<source file='$work/$2'/><target dev='vda' bus='virtio'/></disk>
<serial type='pty'/></devices></domain>
XML
  $virsh define "$1.xml" >/dev/null && $virsh start "$1" >/dev/null
}
rewrite() {  # domain: 1% of the disk in 64 KiB pieces spread over it
  local pieces=$((size_gib * 1024 * 1024 / 100 / 64)) cmds=""
  RANDOM=42
  for ((i = 0; i < pieces; i++)); do
    off=$(((RANDOM * 32768 + RANDOM) % (size_gib * 1024 * 16)))
    $virsh qemu-monitor-command "$1" --hmp \
      "qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend \"write -P 0x5a $((off * 64))k 64k\"" >/dev/null
  done
}
t() { /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -1; }

cp --sparse=always disk.qcow2 s.qcow2
cp --sparse=always disk.qcow2 v.qcow2
start bench-sendense s.qcow2
start bench-virtnbdbackup v.qcow2
"$sendense" -r repo init >/dev/null
"$sendense" -r repo vm add bench --libvirt --domain bench-sendense >/dev/null
sync
s_full=$(t "$sendense" -r repo backup --vm bench --no-index)
v_full=$(t virtnbdbackup -d bench-virtnbdbackup -l full -o vnb)
rewrite bench-sendense
rewrite bench-virtnbdbackup
sync
s_inc=$(t "$sendense" -r repo backup --vm bench --no-index)
v_inc=$(t virtnbdbackup -d bench-virtnbdbackup -l inc -o vnb)
s_size=$(du -sm repo | cut -f1)
v_size=$(du -sm vnb | cut -f1)
echo "libvirt backups of a running TCG domain, ${size_gib} GiB disk (half data), incremental after 1% rewritten"
printf '  %-14s %10s %10s %10s\n' tool "full s" "inc s" "stored MiB"
printf '  %-14s %10s %10s %10s\n' sendense "$s_full" "$s_inc" "$s_size"
printf '  %-14s %10s %10s %10s\n' virtnbdbackup "$v_full" "$v_inc" "$v_size"
echo "  ratios (virtnbdbackup / sendense): full $(echo "scale=2; $v_full / $s_full" | bc)x, incremental $(echo "scale=2; $v_inc / $s_inc" | bc)x"
