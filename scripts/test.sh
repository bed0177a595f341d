#!/usr/bin/env bash
# The test command: installs what is missing, builds with warnings as
# errors, and runs the whole suite (with format, lint and layering checks),
# then the sanitizer stages. Exits non-zero on any failure.
#
#   scripts/test.sh                   every stage (what CI runs)
#   scripts/test.sh --stage suite     the whole suite, in build/
#   scripts/test.sh --stage asan      AddressSanitizer + UndefinedBehavior-
#                                     Sanitizer (leaks included) on the unit
#                                     and API suites, in build-asan/
#   scripts/test.sh --stage tsan      ThreadSanitizer on the threaded parts
#                                     (job runner, scheduler and HTTP server
#                                     under the API suite; the tree under
#                                     concurrent readers and prune while
#                                     reading), in build-tsan/
#
# With CI=true (.ci/run sets it) a skipped test fails: in CI a skip means a
# missing install step.
set -euo pipefail
cd "$(dirname "$0")/.."

stages=(suite asan tsan)
if [ $# -gt 0 ]; then
  if [ $# -ne 2 ] || [ "$1" != --stage ] ||
     [[ ! " ${stages[*]} " == *" $2 "* ]]; then
    echo "usage: scripts/test.sh [--stage suite|asan|tsan]" >&2
    exit 2
  fi
  stages=("$2")
fi

# The threaded tests TSan runs (ctest -R).
tsan_tests='^(ApiTest\.|MountFixture\.ConcurrentReaders|PruneTest\.(TheTreeKeepsServing|AReaderOfTheDropped))'

configure() {  # DIR [CMAKE ARGS...]
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja -DSENDENSE_WERROR=ON -DBUILD_TESTING=ON "$@"
}

scripts/setup.sh
export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}
for stage in "${stages[@]}"; do
  echo "=== stage: $stage ($(date -u +%H:%M:%S))"
  case $stage in
    suite)
      configure build -DCMAKE_BUILD_TYPE=RelWithDebInfo
      cmake --build build
      ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900
      ;;
    asan)
      # -O1 -g1: instrumented builds compile slower; this keeps the stage
      # short and the reports readable.
      configure build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
        -DSENDENSE_ASAN=ON -DSENDENSE_UBSAN=ON
      cmake --build build-asan --target sendense qcow2_tests engine_tests web_tests
      ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1 \
        ctest --test-dir build-asan --output-on-failure -j "$(nproc)" \
          --timeout 900 -L '^(unit|api)$'
      ;;
    tsan)
      configure build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DSENDENSE_TSAN=ON
      cmake --build build-tsan --target sendense web_tests fs_tests
      # One at a time: instrumented FUSE daemons side by side starve each
      # other's readers past the tests' patience on 2 cores.
      TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/scripts/tsan.supp" \
        ctest --test-dir build-tsan --output-on-failure -j 1 \
          --timeout 900 -R "$tsan_tests"
      ;;
  esac
done
echo "=== done ($(date -u +%H:%M:%S))"
