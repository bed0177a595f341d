#!/usr/bin/env bash
# Copy benchmark, side by side in one run: a 30-point chain of a 4 GiB disk
# (half random data, 1% rewritten per point) copied to an empty repository
# on the same target disk by `sendense copy`, by `rsync -a --sparse` of the
# repository's files and by `cp -a --sparse=always` of them; then a daily
# copy (one new point) by sendense and by rsync of the changed tree.
# Caches dropped before each run. sendense syncs each file it publishes and
# checks it against its digests; rsync and cp do neither, so they are also
# timed followed by `sync` of their target.
#
# Usage: tests/bench/copy_bench.sh [WORKDIR] [SIZE_GIB] [POINTS]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
sendense=${SENDENSE:-$here/build/cli/sendense}
work=${1:-/var/tmp}/sendense-copy-bench
size_gib=${2:-4}
points=${3:-30}
rm -rf "$work" && mkdir -p "$work" && cd "$work"
trap 'cd / && rm -rf "$work"' EXIT
. "$here/tests/bench/chain.sh"
make_chain
sock=$work/nbd.sock  # chain_backup's, for the daily point below

secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
cold() { sync; echo 3 >/proc/sys/vm/drop_caches; }
fmt() { printf '%.2f' "$1"; }
ratio() { echo "scale=2; $1 / $2" | bc -l; }

"$sendense" -r second init >/dev/null
cold; t_ours=$(secs "$sendense" -r repo copy --to second)
cold; t_rsync=$(secs rsync -a --sparse repo/ rsync-copy/)
cold; t_cp=$(secs cp -a --sparse=always repo cp-copy)
# sendense syncs every file it publishes (crash-safe); the same for them:
cold; t_rsync_sync=$(secs sh -c 'rsync -a --sparse repo/ rsync-sync/ && sync -f rsync-sync')
cold; t_cp_sync=$(secs sh -c 'cp -a --sparse=always repo cp-sync && sync -f cp-sync')
bytes=$(du -sb repo | cut -f1)

# The daily copy: one more point.
at=$(((RANDOM * 32768 + RANDOM) % (size_gib * 1024 - 64)))
qemu-io -f qcow2 -c "write -q -s random.bin ${at}M $((size_gib * 1024 / 100))M" disk.qcow2
chain_backup
cold; t_daily_ours=$(secs "$sendense" -r repo copy --to second)
cold; t_daily_rsync=$(secs rsync -a --sparse repo/ rsync-copy/)
new=$(ls -t repo/vms/bench/sda/*.qcow2 | head -1)

echo "copy of a ${points}-point chain of a ${size_gib} GiB disk ($(numfmt --to=iec "$bytes") in the repository) to an empty target, caches dropped"
printf '  %-28s %8s s\n' "sendense copy" "$(fmt "$t_ours")"
printf '  %-28s %8s s   sendense is %sx faster\n' "rsync -a --sparse" "$(fmt "$t_rsync")" "$(ratio "$t_rsync" "$t_ours")"
printf '  %-28s %8s s   sendense is %sx faster\n' "cp -a --sparse=always" "$(fmt "$t_cp")" "$(ratio "$t_cp" "$t_ours")"
printf '  %-28s %8s s   sendense is %sx faster\n' "rsync, then sync" "$(fmt "$t_rsync_sync")" "$(ratio "$t_rsync_sync" "$t_ours")"
printf '  %-28s %8s s   sendense is %sx faster\n' "cp, then sync" "$(fmt "$t_cp_sync")" "$(ratio "$t_cp_sync" "$t_ours")"
echo "daily copy of one new point ($(numfmt --to=iec "$(stat -c %s "$new")")):"
printf '  %-28s %8s s\n' "sendense copy" "$(fmt "$t_daily_ours")"
printf '  %-28s %8s s   (rsync also checks every file)\n' "rsync -a --sparse" "$(fmt "$t_daily_rsync")"
qemu-img compare -q -f qcow2 -F qcow2 "$new" "second/vms/bench/sda/$(basename "$new")" && echo "  the copied newest point reads the same (qemu-img compare)"
