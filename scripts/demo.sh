#!/usr/bin/env bash
# The demo. Today it installs the dependencies, builds Sendense and shows
# the QCOW2 layer working with qemu's own tools. Once the backup engine
# lands it will: create a sample VM disk with an ext4 filesystem, serve it
# with qemu-nbd and a persistent dirty bitmap, take a full and an
# incremental backup, mount the tree and serve the API.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build
build/cli/sendense --version
echo
echo "The backup engine is not there yet; running the QCOW2 benchmark"
echo "(our writer and chain reader side by side with qemu-img) on a 1 GiB disk:"
build/tests/bench/qcow2_bench /var/tmp 1
