#!/usr/bin/env bash
# The unit and MPI tests under AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer,
# and the replay of the fuzz corpora: configures and builds build-asan/ (IOCA_SANITIZE=ON,
# g++; only `ioca`, the unit tests and the fuzz targets linked for replay) and runs the ctest
# labels unit, mpi and fuzz there. tests/run.sh runs this.
# Usage: tests/sanitize.sh [--e2e] [--all-isas] [--build-only | --no-build]
#   --e2e       also the end-to-end tests (command line, ablation, the bad-input corpus;
#               about 8 more minutes here)
#   --all-isas  also the kernel-dependent unit tests again on the generic and AVX2 kernels
#               (ctest's unit_kernels_*; builds every kernel variant)
#   --build-only  only configure and build
#   --no-build    only run the tests (tests/run.sh builds first, at its own stage)
# The build is cheaper than a release one, and as thorough for the sanitizers: -O1 with line
# tables only (-g1: file and line in every report), except the kernels (-O2: the tests spend
# most of their time there) and the modules that do no numerical work (-O0: they compile
# fastest so; src/CMakeLists.txt), and of the kernel variants only generic and the one this
# machine runs (the others are never executed here). The flags each part drops, and why:
# CMakeLists.txt, cmake/IocaKernels.cmake, tests/CMakeLists.txt. Its ioca keeps Open MPI's
# components loaded until exit (tests/sanitizers/keep_libraries_loaded.c).
# Every sanitizer report goes to a file under build-asan/sanitizer-reports/ as well as
# failing the process that made it, so a report from a process whose exit status a test
# script ignores (a rank of a run expected to fail, say) still fails this script. Leak
# reports from the libraries ioca links (MPI, HDF5, OpenMP) are filtered by
# tests/sanitizers/lsan.supp: see the comments there.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=$(realpath -m "${IOCA_ASAN_BUILD:-build-asan}")
labels='unit|mpi|fuzz'
exclude=(-E '^unit_kernels_')
build_only=0 no_build=0 all_isas=0
for arg in "$@"; do
  case $arg in
    --e2e) labels='unit|mpi|fuzz|e2e' ;;
    --all-isas) exclude=() all_isas=1 ;;
    --build-only) build_only=1 ;;
    --no-build) no_build=1 ;;
    *) echo "usage: tests/sanitize.sh [--e2e] [--all-isas] [--build-only | --no-build]" >&2; exit 2 ;;
  esac
done

# generic and this machine's variant (what IOCA_KERNELS caps at: src/core/kernels.cpp).
variants="generic;avx2;avx512"
if ((!all_isas)); then
  flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
  has() { [[ " $flags " == *" $1 "* ]]; }
  if has avx512f && has avx512vl && has avx512bw && has avx512dq; then variants="generic;avx512"
  elif has avx2 && has fma; then variants="generic;avx2"
  else variants="generic"
  fi
fi
targets=(ioca ioca_unit_tests fuzz_replay_idx fuzz_replay_cifar10 fuzz_replay_model
  fuzz_replay_model_struct fuzz_replay_config)

start=$SECONDS
if ((!no_build)); then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIOCA_SANITIZE=ON \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
    -DIOCA_KERNEL_VARIANTS="$variants" >/dev/null
  cmake --build "$build" -j2 --target "${targets[@]}"
fi
built=$SECONDS
# The sanitizer build's ioca must export its own dlclose (keep_libraries_loaded.c), or the
# leak reports of every rank lose their Open MPI frames' names and cost seconds again.
if ! nm -D --defined-only "$build/ioca" | grep -qw dlclose; then
  echo "sanitize: $build/ioca does not export dlclose (tests/sanitizers/keep_libraries_loaded.c)" >&2
  exit 1
fi
# lsan-mpi-libraries.supp suppresses leaks whose stack ends in vasprintf, where Open MPI's do:
# that hides none of ioca's only while ioca never calls (v)asprintf itself.
if nm -D --undefined-only "$build/ioca" | grep -qE '(^| )_*v?asprintf(_chk)?(@|$)'; then
  echo "sanitize: $build/ioca calls (v)asprintf (see tests/sanitizers/lsan-mpi-libraries.supp)" >&2
  exit 1
fi
((!build_only)) || { echo "sanitize: built in $((built - start)) s (kernel variants: $variants)"; exit 0; }

reports=$build/sanitizer-reports
rm -rf "$reports"
mkdir -p "$reports"
# halt_on_error / -fno-sanitize-recover=all: the first error ends the process (status 1 for
# ASan/LSan, and UBSan's reports abort it). detect_leaks is on: LeakSanitizer works here
# with libgomp, Open MPI and HDF5; the leaks inside those libraries are suppressed
# (tests/sanitizers/lsan.supp), never by turning leak checking off. mpiexec passes this
# environment on to every rank it starts here. The fast unwinder (fast_unwind_on_malloc=1)
# records allocation stacks by frame pointers, which ioca has and those libraries do not: the
# full one doubles the CPU time of a sanitized `ioca run` (8.3 against 3.9 CPU-s for the MPI
# tests' study on 2 ranks). lsan.supp names the MPI calls, which only the full stacks reach.
# So: the unit tests and fuzz replays never start MPI and use lsan.supp; the tests that run
# `ioca run` (tests/e2e/lib.sh, tests/bad-input/run.sh) use lsan-mpi-libraries.supp, which
# suppresses by library; one study run of tests/mpi/study.sh takes the full unwinder and
# lsan.supp, which also catch a communicator or datatype that ioca never frees.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=1:fast_unwind_on_malloc=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1:log_path=$reports/asan:log_exe_name=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan:log_exe_name=1"
export LSAN_OPTIONS="suppressions=$root/tests/sanitizers/lsan.supp:print_suppressions=0"
# Every MPI_Init of the MPI tests happens in a rank of mpiexec here, never in a singleton (see
# tests/mpi/lib.sh: LeakSanitizer's exit-time scan crashes in Open MPI singletons).
export IOCA_SINGLETON_VIA_MPIEXEC=1
# tests/mpi/study.sh: of the layouts that must give identical files (all compared in the
# plain run), 3 ranks x 1 thread and 2 x 2 here: every rank of several, and threads.
export IOCA_TEST_LAYOUTS=${IOCA_TEST_LAYOUTS:-3 1,2 2}
# tests/mpi/lib.sh: fewer test samples in the MPI tests' studies, which their sweeps go through at
# every step.
export IOCA_TEST_SYNTHETIC_TEST_SAMPLES=${IOCA_TEST_SYNTHETIC_TEST_SAMPLES:-500}
# tests/mpi/resume.sh: a smaller study, which a sanitized run still takes long enough over
# for its kills to land mid-run.
export IOCA_TEST_SLOW_BUILD=${IOCA_TEST_SLOW_BUILD:-1}

status=0
# Two tests at a time: most are single-threaded, and the MPI tests wait on each other's ranks.
ctest --test-dir "$build" -L "$labels" "${exclude[@]}" -j2 --output-on-failure --timeout 1800 || status=$?
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
