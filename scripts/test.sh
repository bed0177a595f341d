#!/usr/bin/env bash
# The test command: installs what is missing, builds with warnings as
# errors, and runs the whole suite (with a format check). Exits non-zero on
# any failure.
#
#   scripts/test.sh             the suite (what CI runs)
#   scripts/test.sh --sanitize  the suite built with AddressSanitizer and
#                               UndefinedBehaviorSanitizer (LeakSanitizer
#                               included) in build-sanitize/
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=0
for arg in "$@"; do
  case $arg in
    --sanitize) sanitize=1 ;;
    *) echo "usage: scripts/test.sh [--sanitize]" >&2; exit 2 ;;
  esac
done

scripts/setup.sh
build_dir=${BUILD_DIR:-build}
flags=()
if [ "$sanitize" = 1 ]; then
  build_dir=${BUILD_DIR:-build-sanitize}
  flags=(-DSENDENSE_ASAN=ON -DSENDENSE_UBSAN=ON)
  # Leaks are errors; a leak report names the test that made it.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
fi
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSENDENSE_WERROR=ON -DBUILD_TESTING=ON "${flags[@]}"
cmake --build "$build_dir"
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)" --timeout 900
