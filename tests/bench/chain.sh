# Sourced by benchmarks: builds, in the current folder, disk.qcow2 of
# $size_gib GiB (half random data in 64 MiB stripes, half holes) and the
# repository repo/ with $points backups of VM "bench" by $sendense, each
# incremental after 1% of the disk was rewritten at a random place.
# Needs: sendense, work, size_gib, points. Leaves random.bin.
make_chain() {
  local change_mib=$((size_gib * 1024 / 100)) sock=$work/nbd.sock writes=() i p at
  head -c 64M /dev/urandom >random.bin
  qemu-img create -q -f qcow2 disk.qcow2 "${size_gib}G"
  for ((i = 0; i < size_gib * 1024 / 64; i += 2)); do
    writes+=(-c "write -q -s random.bin $((i * 64))M 64M")
  done
  qemu-io -f qcow2 "${writes[@]}" disk.qcow2
  qemu-img bitmap --add disk.qcow2 b0
  chain_backup() {
    qemu-nbd -f qcow2 -r -e 8 -t -k "$sock" -B b0 disk.qcow2 &
    while [ ! -S "$sock" ]; do sleep 0.05; done
    "$sendense" -r repo backup --no-index --vm bench \
      --disk "sda=nbd+unix:///?socket=$sock" --bitmap b0 >/dev/null 2>&1
    kill %1
    wait %1 2>/dev/null || true
    rm -f "$sock"
    qemu-img bitmap --clear disk.qcow2 b0
  }
  "$sendense" -r repo init >/dev/null
  chain_backup
  for ((p = 1; p < points; p++)); do
    at=$(((RANDOM * 32768 + RANDOM) % (size_gib * 1024 - 64)))
    qemu-io -f qcow2 -c "write -q -s random.bin ${at}M ${change_mib}M" disk.qcow2
    chain_backup
    sleep 1  # one second apart: points are named by the second
  done
}
