#!/usr/bin/env bash
# The demo: installs and builds Sendense, makes a sample VM disk (an MBR
# disk with an ext4 partition holding some files), serves it with qemu-nbd
# and a persistent dirty bitmap, takes a full backup, changes guest files
# (through libguestfs, so qemu records the writes in the bitmap), takes an
# incremental (each backup indexes the guest's files), lists the
# repository, mounts it as a tree of points-in-time under demo/mnt, shows
# the guest files of both points and what changed, searches the index, and
# ends by running the appliance (`serve`: tree, HTTP API, jobs) in the
# foreground until Ctrl-C. Everything lives in ./demo.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Installing what is missing (apt; a few minutes on a fresh machine)"
scripts/setup.sh
step "Building (about 5 minutes on 2 cores the first time; ninja shows each step)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build
sendense=$top/build/cli/sendense

demo=$top/demo
fusermount3 -u -z "$demo/mnt" 2>/dev/null || true
rm -rf "$demo" && mkdir -p "$demo/guest/etc" "$demo/guest/home/alice" "$demo/guest/var/www"
cd "$demo"

step "A sample VM disk: 256 MiB, MBR, ext4 on sda1 with some files"
echo web1 > guest/etc/hostname
echo "Welcome to web1" > guest/etc/motd
echo "alice's notes, version 1" > guest/home/alice/notes.txt
echo "<h1>web1</h1>" > guest/var/www/index.html
head -c 8M /dev/urandom > guest/var/www/video.bin
truncate -s 256M disk.raw
echo 'start=2048, type=83' | sfdisk -q disk.raw
mkfs.ext4 -q -F -d guest -E offset=1048576 disk.raw 255M
qemu-img convert -f raw -O qcow2 disk.raw web1-sda.qcow2 && rm disk.raw
qemu-img bitmap --add web1-sda.qcow2 sendense
qemu-img info web1-sda.qcow2 | sed -n '1,4p'

sock=$demo/nbd.sock
uri="nbd+unix:///?socket=$sock"
serve() {
  qemu-nbd -f qcow2 -r -e 4 -t -k "$sock" -B sendense web1-sda.qcow2 &
  while [ ! -S "$sock" ]; do sleep 0.05; done
}
stop() { kill %1; wait %1 2>/dev/null || true; rm -f "$sock"; }
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

step "sendense -r demo/repo init"
"$sendense" -r repo init

step "Full backup (qemu-nbd exports the disk and its dirty bitmap)"
serve
"$sendense" -r repo backup --vm web1 --disk "sda=$uri" --bitmap sendense
stop

step "Changing guest files inside the VM disk (libguestfs; qemu records the writes)"
export LIBGUESTFS_BACKEND=direct
# Nested KVM hangs on these machines even where /dev/kvm opens: use TCG
# unless told otherwise.
export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS-force_tcg}
guestfish --rw --format=qcow2 -a web1-sda.qcow2 -m /dev/sda1 <<'GF'
write /etc/motd "Welcome to web1, now patched\n"
write /home/alice/notes.txt "alice's notes, version 2\n"
GF
echo "changed /etc/motd and /home/alice/notes.txt"

step "Incremental backup: only the clusters the bitmap marks dirty are read"
sleep 1
serve
"$sendense" -r repo backup --vm web1 --disk "sda=$uri" --bitmap sendense
stop

step "sendense -r demo/repo list"
"$sendense" -r repo list

step "The points are plain QCOW2: qemu-img reads the chain"
newest=$(ls repo/vms/web1/sda/*.qcow2 | tail -1)
qemu-img info --backing-chain "$newest" | grep -E '^(image|backing file):'

step "sendense -r demo/repo mount demo/mnt: every point as a read-only tree"
mkdir -p mnt
"$sendense" -r repo mount mnt
(cd mnt && find . -maxdepth 4 | sort | sed 's/^/  /')
echo
echo "latest -> $(readlink mnt/web1/latest)"
first=$(ls mnt/web1 | head -1)
echo "The raw disks are byte-for-byte what qemu reads from the chain:"
for name in $(ls mnt/web1 | grep -v '^latest$'); do
  point=mnt/web1/$name/disks/sda.raw
  file=repo/vms/web1/sda/$name.qcow2
  printf '  %s  ' "$point"
  qemu-img compare -f raw -F qcow2 "$point" "$file"
done
echo "Partition table of the first point, read through the tree:"
sfdisk -l "mnt/web1/$first/disks/sda.raw" | sed 's/^/  /' | tail -2

step "The guest's files in both points (listed from the index, read through libguestfs)"
second=$(ls mnt/web1 | grep -v latest | tail -1)
for point in "$first" "$second"; do
  echo "$point/files/sda1:"
  (cd "mnt/web1/$point/files/sda1" && find . -path ./lost+found -prune -o -type f -printf '  %-28p %6s bytes  %TY-%Tm-%Td %TH:%TM\n' | sort)
done
echo
echo "What changed between the two points (diff -r through the tree):"
diff -r --exclude=lost+found "mnt/web1/$first/files/sda1" "mnt/web1/$second/files/sda1" | sed 's/^/  /' || true

step "sendense find motd; sendense history --vm web1 /home/alice/notes.txt"
"$sendense" -r repo find motd
"$sendense" -r repo history --vm web1 /home/alice/notes.txt
fusermount3 -u mnt

step "sendense -r demo/repo serve --mount demo/mnt: the appliance (tree, API, dashboard, jobs, schedules)"
# The VM stays exported so that backups can be started through the API.
serve
"$sendense" -r repo vm add web1 --disk "sda=$uri" --bitmap sendense
"$sendense" -r repo vm list
listen=${SENDENSE_DEMO_LISTEN:-127.0.0.1:8420}
token_file=$demo/repo/api-token
api=http://$listen/api/v1
# The token stays in its file (never on the terminal): the commands read it.
cat <<EOT

  Tree:       $demo/mnt   (browse it, cp or rsync from it; new points appear live)
  Dashboard:  http://$listen/   (sign in with the content of $token_file;
              from another machine: ssh -L 8420:$listen this-host)
  API:        $api   (token in $token_file)

  auth="Authorization: Bearer \$(cat $token_file)"
  curl -H "\$auth" $api/backups
  curl -H "\$auth" -X POST $api/vms/web1/backup
  curl -H "\$auth" $api/jobs
  curl -H "\$auth" -o etc.tar '$api/backups/web1/$second/download/sda1/etc?format=tar'

  Ctrl-C stops it (jobs cancelled, tree unmounted).

EOT
"$sendense" -r repo serve --mount mnt --listen "$listen"
