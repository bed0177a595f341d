#!/bin/bash
# The S3 tests' gateway, started once per test run (ctest fixture "rgw"):
# a one-node Ceph (mon, one memstore OSD) and its RADOS Gateway on
# loopback ports that are free now, by start-rgw.sh beside this script.
# `start BASE` leaves BASE/env (S3_ENDPOINT, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION as shell assignments) for the
# tests; `stop BASE` ends it and removes BASE.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
what=$1 base=$2
export BASE=$base/cluster
case $what in
  start)
    [ -d "$BASE" ] && "$here/stop-rgw.sh"
    mkdir -p "$base"
    rm -f "$base/env"
    command -v radosgw >/dev/null || {
      echo "rgw_fixture: radosgw is not installed (scripts/setup.sh installs ceph-mon ceph-osd radosgw ceph-common)" >&2
      exit 1
    }
    # Free loopback ports: the monitor, the gateway, 100 for the OSD.
    read -r MON_PORT RGW_PORT OSD_PORT_MIN < <(python3 - <<'PY'
import socket
def free():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
import random
while True:
    base = random.randrange(20000, 29000)
    try:
        ss = []
        for p in range(base, base + 100):
            s = socket.socket(); s.bind(("127.0.0.1", p)); ss.append(s)
        for s in ss: s.close()
        break
    except OSError:
        for s in ss: s.close()
print(free(), free(), base)
PY
)
    export MON_PORT RGW_PORT OSD_PORT_MIN
    export OSD_STORE=memstore MEMSTORE_BYTES=$((6 << 30))
    "$here/start-rgw.sh" >"$base/start.out" 2>"$base/start.err" || {
      cat "$base/start.err" >&2
      exit 1
    }
    grep '^export ' "$base/start.out" | sed 's/^export //' >"$base/env"
    cat "$base/env"
    ;;
  stop)
    "$here/stop-rgw.sh"
    rm -f "$base/env"
    ;;
esac
