#!/usr/bin/env bash
# S3 benchmark, side by side in one run: a 30-point chain of a 4 GiB disk
# (half random data, 1% rewritten per point; tests/bench/chain.sh) uploaded
# to a Ceph RADOS Gateway on loopback (bluestore on this disk: started
# here by tests/s3/start-rgw.sh) by `sendense copy --to` an S3 target and
# by `rclone copy` (Debian's rclone, S3 backend, Ceph provider) of the
# same files into another bucket; then downloaded again by `sendense copy
# --from` into an empty repository and by `rclone copy` into a directory.
# Wall time and peak RSS (/usr/bin/time) of each.
#
# Usage: tests/bench/s3_bench.sh [WORKDIR] [SIZE_GIB] [POINTS]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
sendense=${SENDENSE:-$here/build/cli/sendense}
work=${1:-/var/tmp}/sendense-s3-bench
size_gib=${2:-4}
points=${3:-30}
rm -rf "$work" && mkdir -p "$work" && cd "$work"
export BASE=$work/rgw
cleanup() {
  "$here/tests/s3/stop-rgw.sh" >/dev/null 2>&1 || true
  cd / && rm -rf "$work"
}
trap cleanup EXIT
read -r MON_PORT RGW_PORT OSD_PORT_MIN < <(python3 -c '
import socket
def free():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
print(free(), free(), 27100)')
export MON_PORT RGW_PORT OSD_PORT_MIN OSD_STORE=bluestore
eval "$("$here/tests/s3/start-rgw.sh" 2>/dev/null | grep '^export ')"

. "$here/tests/bench/chain.sh"
make_chain
bytes=$(du -sb repo/vms | cut -f1)

printf 'access_key = %s\nsecret_key = %s\n' "$AWS_ACCESS_KEY_ID" \
  "$AWS_SECRET_ACCESS_KEY" >creds && chmod 600 creds
export RCLONE_CONFIG_RGW_TYPE=s3 RCLONE_CONFIG_RGW_PROVIDER=Ceph \
  RCLONE_CONFIG_RGW_ENDPOINT=$S3_ENDPOINT \
  RCLONE_CONFIG_RGW_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID \
  RCLONE_CONFIG_RGW_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
# rclone's S3 SDK cannot load a CA bundle named by AWS_CA_BUNDLE with its
# own transport (LoadCustomCABundleError): it runs without it (http here).
rclone() { env -u AWS_CA_BUNDLE /usr/bin/rclone "$@"; }
rclone mkdir rgw:sendense-bench
rclone mkdir rgw:rclone-bench

# "seconds peak-RSS-KiB" of a command.
measure() {
  sync
  /usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null 2>"$work/said" ||
    { cat "$work/said" >&2; return 1; }
  cat "$work/time"
}
"$sendense" -r repo target add offsite --s3 "$S3_ENDPOINT/sendense-bench" \
  --credentials "$work/creds" >/dev/null
read -r up_ours up_ours_rss < <(measure "$sendense" -r repo copy --to offsite)
read -r up_rclone up_rclone_rss < <(measure env -u AWS_CA_BUNDLE rclone copy repo/vms rgw:rclone-bench/vms)

"$sendense" -r back init >/dev/null
"$sendense" -r back target add offsite --s3 "$S3_ENDPOINT/sendense-bench" \
  --credentials "$work/creds" >/dev/null
sync && echo 3 >/proc/sys/vm/drop_caches
read -r down_ours down_ours_rss < <(measure "$sendense" -r back copy --from offsite)
read -r down_rclone down_rclone_rss < <(measure env -u AWS_CA_BUNDLE rclone copy rgw:rclone-bench/vms rclone-back/vms)
newest=$(ls repo/vms/bench/sda/*.qcow2 | tail -1)
qemu-img compare -q -f qcow2 -F qcow2 "$newest" "back/vms/bench/sda/$(basename "$newest")"

ratio() { echo "scale=2; $1 / $2" | bc -l; }
mib() { echo "$(($1 / 1024)) MiB"; }
echo "S3 copy of a ${points}-point chain of a ${size_gib} GiB disk ($(numfmt --to=iec "$bytes") of files) to Ceph RGW on loopback"
printf '  %-34s %8s s  peak RSS %s\n' "upload: sendense copy --to" "$up_ours" "$(mib "$up_ours_rss")"
printf '  %-34s %8s s  peak RSS %s\n' "upload: rclone copy" "$up_rclone" "$(mib "$up_rclone_rss")"
printf '  %-34s %8s s  peak RSS %s\n' "download: sendense copy --from" "$down_ours" "$(mib "$down_ours_rss")"
printf '  %-34s %8s s  peak RSS %s\n' "download: rclone copy" "$down_rclone" "$(mib "$down_rclone_rss")"
echo "  rclone / sendense: upload $(ratio "$up_rclone" "$up_ours")x, download $(ratio "$down_rclone" "$down_ours")x (the rebuilt newest point reads the same: qemu-img compare)"
