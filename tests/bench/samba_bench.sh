#!/usr/bin/env bash
# Samba benchmark, side by side in one run on the same point: a guest ext4
# filesystem with a 256 MiB file, a folder of 2,000 small files and a
# folder of 10,000 empty files, backed up and indexed by sendense, the tree
# mounted, and `samba-config`'s share served by a real smbd on loopback:
#   - the 256 MiB file: `smbclient get` vs `cat` from the tree
#   - the 2,000 files: `smbclient mget` (recursive) vs `cp -r` from the tree
#   - listing the 10,000-file folder: `smbclient ls` vs `ls -l` in the tree
# Warm: each is read once first (the appliance started, the tree's caches
# filled); then each is the median of three runs. Cold: the same with the
# page cache dropped before each run (the appliance keeps running; guest
# file data then comes through it, as until guest reads are extent-mapped).
#
# Usage: tests/bench/samba_bench.sh [WORKDIR]   (root: smbd, users)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
sendense=${SENDENSE:-$here/build/cli/sendense}
work=${1:-/var/tmp}/sendense-samba-bench
port=44592
rm -rf "$work" && mkdir -p "$work" && cd "$work"
cleanup() {
  kill "$(cat "$work/smb/run/smbd.pid" 2>/dev/null)" 2>/dev/null || true
  fusermount3 -u -z "$work/mnt" 2>/dev/null || true
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  cd / && rm -rf "$work"
}
trap cleanup EXIT

mkdir -p guest/big guest/small guest/many
head -c 256M /dev/urandom >guest/big/file.bin
for i in $(seq 0 1999); do head -c 4096 /dev/urandom >"guest/small/f$i"; done
(cd guest/many && seq 0 9999 | sed 's/^/e/' | xargs touch)
truncate -s 1G disk.raw
mkfs.ext4 -q -F -N 20000 -d guest disk.raw
qemu-img convert -f raw -O qcow2 disk.raw disk.qcow2 && rm disk.raw
"$sendense" -r repo init >/dev/null
qemu-nbd -r -f qcow2 -t -k "$work/nbd.sock" disk.qcow2 &
while [ ! -S "$work/nbd.sock" ]; do sleep 0.05; done
"$sendense" -r repo backup --vm bench --disk "sda=nbd+unix:///?socket=$work/nbd.sock" >/dev/null 2>&1
mkdir -p mnt
"$sendense" -r repo mount mnt
fs=$(ls mnt/bench/latest/files | head -1)
tree=mnt/bench/latest/files/$fs

mkdir -p smb/{priv,lock,state,cache,run,log}
"$sendense" -r repo samba-config --mount "$work/mnt" --output smb/sendense.conf \
  --valid-users bench-smb >/dev/null
cat >smb/smb.conf <<CONF
[global]
  smb ports = $port
  interfaces = lo
  bind interfaces only = yes
  private dir = $work/smb/priv
  lock directory = $work/smb/lock
  state directory = $work/smb/state
  cache directory = $work/smb/cache
  pid directory = $work/smb/run
  ncalrpc dir = $work/smb/run/ncalrpc
  log file = $work/smb/log/smbd.log
  passdb backend = tdbsam:$work/smb/priv/passdb.tdb
  server role = standalone server
  load printers = no
  disable spoolss = yes
include = $work/smb/sendense.conf
CONF
id bench-smb >/dev/null 2>&1 || useradd -M bench-smb
printf 'Bench-Pw1\nBench-Pw1\n' | smbpasswd -c smb/smb.conf -s -a bench-smb >/dev/null
smbd -D -s smb/smb.conf
while [ ! -f smb/run/smbd.pid ]; do sleep 0.1; done
smb() { smbclient -t 180 "//127.0.0.1/bench-$fs" -p $port -s smb/smb.conf -U bench-smb%Bench-Pw1 -c "$1" >/dev/null 2>&1; }

secs() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}
median3() {
  local a b c
  a=$(secs "$@"); b=$(secs "$@"); c=$(secs "$@")
  printf '%s\n' "$a" "$b" "$c" | sort -g | sed -n 2p
}
cp_tree() { rm -rf out && cp -r "$tree/small" out; }
mget() { rm -rf out && mkdir out && smb "prompt off; recurse on; lcd $work/out; mget small"; }

# Warm up: the appliance, the tree's caches.
cat "$tree/big/file.bin" >/dev/null; cp_tree; ls -l "$tree/many" >/dev/null

drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
cold() { drop; "$@"; }
big_tree_cold=$(median3 cold cat "$tree/big/file.bin")
big_smb_cold=$(median3 cold smb "get big/file.bin /dev/null")
small_tree_cold=$(median3 cold cp_tree)
small_smb_cold=$(median3 cold mget)
big_tree=$(median3 cat "$tree/big/file.bin")
big_smb=$(median3 smb "get big/file.bin /dev/null")
small_tree=$(median3 cp_tree)
small_smb=$(median3 mget)
ls_tree=$(median3 ls -l "$tree/many")
ls_smb=$(median3 smb "ls many/*")

rate() { echo "268435456 / $1 / 1000000" | bc -l; }
printf 'samba_bench: one point, share bench-%s served by smbd over the tree (warm, median of 3)\n' "$fs"
printf '  cold 256 MiB file: smbclient get %6.2f s (%4.0f MB/s)   cat from the tree %6.2f s (%4.0f MB/s)   %3.0f%% of the tree\n' \
  "$big_smb_cold" "$(rate "$big_smb_cold")" "$big_tree_cold" "$(rate "$big_tree_cold")" "$(echo "100 * $big_tree_cold / $big_smb_cold" | bc -l)"
printf '  cold 2,000 files:  smbclient mget %6.2f s   cp -r from the tree %6.2f s   %3.0f%% of the tree\n' \
  "$small_smb_cold" "$small_tree_cold" "$(echo "100 * $small_tree_cold / $small_smb_cold" | bc -l)"
printf '  256 MiB file:      smbclient get %6.2f s (%4.0f MB/s)   cat from the tree %6.2f s (%4.0f MB/s)   %3.0f%% of the tree\n' \
  "$big_smb" "$(rate "$big_smb")" "$big_tree" "$(rate "$big_tree")" "$(echo "100 * $big_tree / $big_smb" | bc -l)"
printf '  2,000 small files: smbclient mget %6.2f s   cp -r from the tree %6.2f s   %3.0f%% of the tree\n' \
  "$small_smb" "$small_tree" "$(echo "100 * $small_tree / $small_smb" | bc -l)"
printf '  10,000-file folder listed: smbclient ls %6.2f s   ls -l in the tree %6.2f s\n' \
  "$ls_smb" "$ls_tree"
