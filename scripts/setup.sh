#!/usr/bin/env bash
# Installs every build and test dependency of Sendense from Debian packages.
# Idempotent: packages already present are left alone, and apt is only asked
# when something is missing.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config clang-format git
  liblsan0  # LeakSanitizer, preloaded under serve by the API tests
  # libraries
  libfuse3-dev fuse3 libnbd-dev libguestfs-dev libboost-dev libsqlite3-dev
  libcurl4-openssl-dev nlohmann-json3-dev libarchive-dev libspdlog-dev
  libcli11-dev libzstd-dev zlib1g-dev libxxhash-dev libgtest-dev libgmock-dev
  libvirt-dev libpugixml-dev libsodium-dev libpam0g-dev libssl-dev
  # real parts the tests and benchmarks start
  qemu-utils qemu-system-common qemu-block-extra nbdkit libnbd-bin
  libguestfs-tools libguestfs-xfs guestmount linux-image-amd64 samba smbclient
  samba-vfs-modules python3-impacket
  chromium chromium-driver python3-selenium fonts-dejavu-core  # the dashboard test
  e2fsprogs xfsprogs btrfs-progs dosfstools ntfs-3g lvm2 fdisk rsync curl sqlite3
  wrk hyperfine fio time bc systemd
  eslint  # the dashboard's JavaScript, in the format check
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86
  virtnbdbackup
  openssh-server  # the remote host test starts its own sshd on loopback
  ceph-mon ceph-osd radosgw ceph-common  # the S3 tests' gateway (tests/s3)
  rclone  # the S3 benchmark's peer
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
# Packages install; services do not start (openssh-server would start the
# machine's own sshd): tests start what they need on loopback themselves.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
  "${sudo_cmd[@]}" chmod 755 "$policy"
  trap '"${sudo_cmd[@]}" rm -f "$policy"' EXIT
fi
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
