#!/usr/bin/env bash
# The unit and MPI tests under AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer:
# configures and builds build-asan/ (IOCA_SANITIZE=ON, g++, -O2 -g; only `ioca` and the unit
# tests) and runs the ctest labels unit and mpi there. tests/run.sh runs this.
# Usage: tests/sanitize.sh [--e2e] [--all-isas] [--build-only]
#   --e2e       also the end-to-end tests (command line, ablation, the bad-input corpus;
#               about 8 more minutes here)
#   --all-isas  also the unit suite again on the generic and AVX2 kernels (ctest's
#               unit_kernels_* tests; skipped by default, they double the unit time)
#   --build-only  only configure and build
# Every sanitizer report goes to a file under build-asan/sanitizer-reports/ as well as
# failing the process that made it, so a report from a process whose exit status a test
# script ignores (a rank of a run expected to fail, say) still fails this script. Leak
# reports from the libraries ioca links (MPI, HDF5, OpenMP) are filtered by
# tests/sanitizers/lsan.supp: see the comments there.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=$(realpath -m "${IOCA_ASAN_BUILD:-build-asan}")
labels='unit|mpi'
exclude=(-E '^unit_kernels_')
build_only=0
for arg in "$@"; do
  case $arg in
    --e2e) labels='unit|mpi|e2e' ;;
    --all-isas) exclude=() ;;
    --build-only) build_only=1 ;;
    *) echo "usage: tests/sanitize.sh [--e2e] [--all-isas] [--build-only]" >&2; exit 2 ;;
  esac
done

start=$SECONDS
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIOCA_SANITIZE=ON >/dev/null
cmake --build "$build" -j2 --target ioca ioca_unit_tests
built=$SECONDS
((!build_only)) || { echo "sanitize: built in $((built - start)) s"; exit 0; }

reports=$build/sanitizer-reports
rm -rf "$reports"
mkdir -p "$reports"
# halt_on_error / -fno-sanitize-recover=all: the first error ends the process (status 1 for
# ASan/LSan, and UBSan's reports abort it). detect_leaks is on: LeakSanitizer works here
# with libgomp, Open MPI and HDF5; the leaks inside those libraries are suppressed by name
# (tests/sanitizers/lsan.supp), never by turning leak checking off. fast_unwind_on_malloc=0
# gives full allocation stacks through those libraries (no frame pointers), which the
# suppressions need. mpiexec passes this environment on to every rank it starts here.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=1:fast_unwind_on_malloc=0:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1:log_path=$reports/asan:log_exe_name=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan:log_exe_name=1"
export LSAN_OPTIONS="suppressions=$root/tests/sanitizers/lsan.supp:print_suppressions=0"
# Single-process commands of the MPI tests run as one rank of mpiexec here (see run_single
# in tests/mpi/lib.sh: LeakSanitizer's exit-time scan crashed in Open MPI singletons in CI).
export IOCA_SINGLETON_VIA_MPIEXEC=1

status=0
ctest --test-dir "$build" -L "$labels" "${exclude[@]}" --output-on-failure --timeout 1800 || status=$?
if compgen -G "$reports/*" >/dev/null; then
  echo "sanitize: sanitizer reports:" >&2
  for f in "$reports"/*; do
    echo "=== $f" >&2
    head -60 "$f" >&2
  done
  status=1
fi
echo "sanitize: labels $labels; build $((built - start)) s, tests $((SECONDS - built)) s, total $((SECONDS - start)) s"
[ "$status" -eq 0 ] && echo "sanitize: clean (ASan, LSan, UBSan)" || echo "sanitize: FAILED"
exit "$status"
