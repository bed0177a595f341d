#!/usr/bin/env bash
# Remote libvirt benchmark, side by side in one run: a running TCG domain
# with a 4 GiB qcow2 disk (half random data) on a "remote" host, a full
# backup, then an incremental after 1% of the disk was rewritten through
# QEMU's block layer, by
#   - sendense over qemu+ssh:// with the job's NBD server on TCP with TLS
#     (client certificates verified),
#   - virtnbdbackup's remote mode over the same qemu+ssh:// host with
#     --tls (NBD on TCP with TLS, the same certificates),
#   - sendense through a local unix socket (the host's libvirt reached by
#     its socket, the job's NBD server a unix socket): what remote costs.
# Each gets its own domain on its own copy of the image, so that their
# checkpoints never meet.
#
# The host: the session libvirt of the test user sendense-remote (as in
# tests/libvirt/remote_host.h), reached through an sshd this script starts
# on port 22 of a private network namespace (virtnbdbackup's ssh, paramiko,
# knows no other port), and virtnbdbackup runs with a hostname of its own
# (it tells a remote host by its name). Nothing of the machine's own ssh,
# TLS or libvirt setup is touched. Needs root.
#
# Usage: tests/bench/remote_bench.sh [WORKDIR] [SIZE_GIB]
set -euo pipefail
if [[ -z ${SENDENSE_BENCH_NETNS:-} ]]; then
  exec unshare --net env SENDENSE_BENCH_NETNS=1 "$0" "$@"
fi
ip link set lo up
here=$(cd "$(dirname "$0")/../.." && pwd)
sendense=${SENDENSE:-$here/build/cli/sendense}
work=${1:-/var/tmp}/sendense-remote-bench
size_gib=${2:-4}
user=sendense-remote
getent passwd $user >/dev/null ||
  useradd -m -d /var/tmp/$user -s /bin/sh $user
usermod -p '*' $user
home=$(getent passwd $user | cut -d: -f6)
pkill -9 -u $user || true
rm -rf "$work" && mkdir -p "$work" && chmod 755 "$work" && cd "$work"
cleanup() {
  pkill -9 -u $user || true
  [[ -n ${sshd:-} ]] && kill "$sshd" 2>/dev/null
  cd / && rm -rf "$work"
}
trap cleanup EXIT

# A CA, the host's server certificate (qemu.conf's backup_tls_x509_cert_dir)
# and the appliance's client certificate.
cert() {  # kind dir extensions
  mkdir -p "$2"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$2/$1-key.pem" -out "$1.csr" -subj "/CN=$1" 2>/dev/null
  printf "$3" >"$1.ext"
  openssl x509 -req -in "$1.csr" -out "$2/$1-cert.pem" -extfile "$1.ext" \
    -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial -days 2 2>/dev/null
  cp ca-cert.pem "$2/"
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout ca-key.pem -out ca-cert.pem -days 2 -subj /CN=bench-ca 2>/dev/null
cert server pki/server \
  'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:vm\nextendedKeyUsage=serverAuth\n'
cert client pki/client 'extendedKeyUsage=clientAuth\n'
# A named group, as host check advises: no parameters made per job.
openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 \
  -out pki/server/dh-params.pem
chmod -R a+rX pki && chown -R $user pki/server

# The host's user: its libvirt's qemu.conf, virtnbdbackup's ssh key and
# libnbd client certificates (it runs as this user, from "another" host).
rm -rf "$home/.config/libvirt" "$home/.ssh" "$home/.pki"
mkdir -p "$home/.config/libvirt" "$home/.ssh" "$home/.pki/libnbd"
printf 'backup_tls_x509_cert_dir = "%s"\nbackup_tls_x509_verify = 1\n' \
  "$work/pki/server" >"$home/.config/libvirt/qemu.conf"
cp pki/client/* "$home/.pki/libnbd/"
ssh-keygen -q -t ed25519 -N '' -f "$home/.ssh/id_ed25519"
printf 'Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile %s\n  LogLevel ERROR\n' \
  "$home/.ssh/known_hosts" >"$home/.ssh/config"
chown -R $user "$home"

# sshd on port 22 of this network namespace; root (sendense) logs in
# with its own key through a wrapper, as the tests do.
mkdir -p ssh /run/sshd
ssh-keygen -q -t ed25519 -N '' -f ssh/host-key
ssh-keygen -q -t ed25519 -N '' -f ssh/client-key
cat ssh/client-key.pub "$home/.ssh/id_ed25519.pub" >ssh/authorized_keys
chmod 644 ssh/authorized_keys
cat >ssh/sshd_config <<EOF
Port 22
ListenAddress 127.0.0.1
HostKey $work/ssh/host-key
PidFile none
AuthorizedKeysFile $work/ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
EOF
printf 'Host *\n  IdentityFile %s/ssh/client-key\n  IdentitiesOnly yes\n  UserKnownHostsFile %s/ssh/known_hosts\n  StrictHostKeyChecking no\n  BatchMode yes\n  LogLevel ERROR\n' \
  "$work" "$work" >ssh/ssh_config
printf '#!/bin/sh\nexec ssh -F %s/ssh/ssh_config "$@"\n' "$work" >ssh/ssh
chmod 755 ssh/ssh
/usr/sbin/sshd -D -e -f "$work/ssh/sshd_config" 2>ssh/sshd.log &
sshd=$!
runuser -u $user -- env -i HOME="$home" PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  libvirtd -d
remote="qemu+ssh://$user@127.0.0.1:22/session?command=$work/ssh/ssh"
local_uri="qemu+unix:///session?socket=$home/.cache/libvirt/libvirt-sock"
for ((i = 0; i < 60; i++)); do
  virsh -q -c "$remote" version >/dev/null 2>&1 && break
  sleep 1
done
virsh="virsh -q -c $local_uri"

# The disk: half random data in 64 MiB stripes, half holes.
head -c 64M /dev/urandom >random.bin
truncate -s "${size_gib}G" disk.raw
for ((i = 0; i < size_gib * 16; i += 2)); do
  dd if=random.bin of=disk.raw bs=1M seek=$((i * 64)) conv=notrunc status=none
done
qemu-img convert -f raw -O qcow2 disk.raw disk.qcow2 && rm disk.raw random.bin

start() {  # domain image
  cp --sparse=always disk.qcow2 "$2" && chown $user "$2"
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
  local pieces=$((size_gib * 1024 * 1024 / 100 / 64))
  RANDOM=42
  for ((i = 0; i < pieces; i++)); do
    off=$(((RANDOM * 32768 + RANDOM) % (size_gib * 1024 * 16)))
    echo "qemu-monitor-command $1 --hmp 'qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend \"write -P 0x5a $((off * 64))k 64k\"'"
  done | $virsh >/dev/null
}
t() {  # seconds the command took; what it said when it failed
  local start
  sync
  start=$(date +%s.%N)
  "$@" >/dev/null 2>"$work/said" || { cat "$work/said" >&2; return 1; }
  printf '%.2f' "$(echo "$(date +%s.%N) - $start" | bc)"
}
# virtnbdbackup as the user of "another" host named appliance.
vnb() {
  unshare --uts sh -c "hostname appliance && exec runuser -u $user -- \
    env HOME=$home virtnbdbackup -U qemu+ssh://$user@vm/session \
    --ssh-user $user --tls -I 127.0.0.1 -d bench-v $*"
}

start bench-r r.qcow2
start bench-v v.qcow2
start bench-l l.qcow2
mkdir vnb && chown $user vnb
"$sendense" -r repo init >/dev/null
"$sendense" -r repo host add kvm1 --libvirt "$remote" \
  --nbd-tls "$work/pki/client" --server-tls "$work/pki/server" >/dev/null
"$sendense" -r repo vm add bench --host kvm1 --domain bench-r >/dev/null
"$sendense" -r local init >/dev/null
"$sendense" -r local vm add bench --libvirt "$local_uri" \
  --domain bench-l >/dev/null
sync
r_full=$(t "$sendense" -r repo backup --vm bench --no-index)
v_full=$(t vnb -l full -o "$work/vnb")
l_full=$(t "$sendense" -r local backup --vm bench --no-index)
for d in bench-r bench-v bench-l; do rewrite $d; done
sync
r_inc=$(t "$sendense" -r repo backup --vm bench --no-index)
v_inc=$(t vnb -l inc -o "$work/vnb")
l_inc=$(t "$sendense" -r local backup --vm bench --no-index)
# What TLS itself costs here: nbdcopy reading the same image from
# qemu-nbd over a unix socket and over TCP with TLS (the same
# certificates), to null.
qemu-nbd -r -t -f qcow2 -k "$work/plain.sock" -x d --fork \
  --pid-file "$work/plain.pid" disk.qcow2
qemu-nbd -r -t -f qcow2 -b 127.0.0.1 -p 10899 -x d --fork \
  --pid-file "$work/tls.pid" --tls-creds tls \
  --object "tls-creds-x509,id=tls,endpoint=server,dir=$work/pki/server,verify-peer=on" \
  disk.qcow2
c_unix=$(t nbdcopy "nbd+unix:///d?socket=$work/plain.sock" null:)
c_tls=$(t nbdcopy "nbds://127.0.0.1:10899/d?tls-certificates=$work/pki/client" null:)
kill "$(cat plain.pid)" "$(cat tls.pid)"
test "$("$sendense" -r repo list --vm bench --json | grep -o '"incremental"' | wc -l)" -ge 1
ls vnb | grep -q 'inc' || { echo "virtnbdbackup made no incremental" >&2; exit 1; }

echo "remote libvirt backups of a running TCG domain, ${size_gib} GiB disk (half data), incremental after 1% rewritten"
printf '  %-36s %8s %8s\n' how "full s" "inc s"
printf '  %-36s %8s %8s\n' "sendense, qemu+ssh, NBD over TLS" "$r_full" "$r_inc"
printf '  %-36s %8s %8s\n' "virtnbdbackup, qemu+ssh, --tls" "$v_full" "$v_inc"
printf '  %-36s %8s %8s\n' "sendense, local unix socket" "$l_full" "$l_inc"
printf '  %-36s %8s\n' "nbdcopy from qemu-nbd, unix socket" "$c_unix"
printf '  %-36s %8s\n' "nbdcopy from qemu-nbd, TLS" "$c_tls"
ratio() { echo "scale=2; $1 / $2" | bc; }
echo "  virtnbdbackup / sendense remote: full $(ratio "$v_full" "$r_full")x, incremental $(ratio "$v_inc" "$r_inc")x"
echo "  sendense remote / local: full $(ratio "$r_full" "$l_full")x, incremental $(ratio "$r_inc" "$l_inc")x"
echo "  what TLS costs a reader here (nbdcopy TLS / unix): $(ratio "$c_tls" "$c_unix")x"
