#!/usr/bin/env bash
# Builds the libFuzzer targets with clang into build-fuzz/ (IOCA_FUZZ=ON: ASan, UBSan and
# coverage on every ioca library), replays the committed seed corpus and regression inputs
# of each target, then fuzzes each target for a while.
# Usage: tests/fuzz/run.sh [seconds-per-target] [target...]
#   seconds-per-target  default 20; 0 only replays the corpus and the regression inputs;
#                       "build" only builds the targets
#   target              fuzz_idx fuzz_cifar10 fuzz_model fuzz_model_struct fuzz_config
#                       (default: all)
# New inputs go to build-fuzz/fuzz/work/<target>/ (never into the repository), crashes to
# build-fuzz/fuzz/artifacts/<target>/. See tests/fuzz/README.md for longer runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
secs=${1:-20}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(fuzz_idx fuzz_cifar10 fuzz_model fuzz_model_struct fuzz_config)
# fuzz_model feeds raw bytes to libhdf5 (1.10.8 in Debian 12), which has memory bugs of
# its own on malformed files (out-of-bounds reads in H5HG_read and relatives; upstream
# keeps fixing such reports). ioca cannot fix those: that target runs in fork mode, goes
# on past a crash, and each crash is then classified by the frame that faulted. A crash in
# libhdf5 is listed as a library crash; one anywhere else fails the run.
library_crash_targets=" fuzz_model "
build=$(realpath -m "${IOCA_FUZZ_BUILD:-build-fuzz}")
here=$root/tests/fuzz

start=$SECONDS
# clang 16: Debian 12's default clang (14) cannot compile libstdc++ 12's <ranges>.
cc=${IOCA_FUZZ_CC:-clang-16}
cxx=${IOCA_FUZZ_CXX:-clang++-16}
# Without -fopenmp: clang 16 rejects a lambda capturing a structured binding under it ("not
# yet supported in OpenMP"), which ioca's code does. The targets run single-threaded anyway:
# the pragmas are ignored and libomp only provides omp_get_max_threads() and friends.
omp_lib=$("$cxx" -print-resource-dir)/../../libomp.so
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_CXX_COMPILER="$cxx" -DIOCA_FUZZ=ON -DIOCA_BUILD_TESTS=OFF \
  -DOpenMP_CXX_FLAGS=-Wno-unknown-pragmas -DOpenMP_CXX_LIB_NAMES=omp -DOpenMP_omp_LIBRARY="$omp_lib" >/dev/null
cmake --build "$build" -j2 --target "${targets[@]}"
echo "fuzz: built in $((SECONDS - start)) s"
[ "$secs" != build ] || exit 0

# Scratch files of the targets on a memory file system when there is one.
[ -d /dev/shm ] && [ -w /dev/shm ] && export TMPDIR=/dev/shm
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:allocator_may_return_null=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
for s in llvm-symbolizer-16 llvm-symbolizer; do
  command -v "$s" >/dev/null && export ASAN_SYMBOLIZER_PATH=$(command -v "$s") && break
done
export LSAN_OPTIONS="suppressions=$root/tests/sanitizers/lsan.supp:print_suppressions=0"
export HDF5_USE_FILE_LOCKING=FALSE

out=$build/fuzz
status=0
summary=()
for t in "${targets[@]}"; do
  bin=$out/$t
  seeds=$here/corpus/${t#fuzz_}
  regressions=$here/regressions/${t#fuzz_}
  work=$out/work/$t
  mkdir -p "$work"
  dict=()
  [ -f "$here/${t#fuzz_}.dict" ] && dict=(-dict="$here/${t#fuzz_}.dict")
  # 1. Replay: every committed input must run clean (each is run once).
  inputs=("$seeds"/*)
  [ -d "$regressions" ] && inputs+=("$regressions"/*)
  if ! "$bin" -runs=1 "${inputs[@]}" >"$out/$t.replay.log" 2>&1; then
    echo "fuzz: $t FAILED replaying the committed inputs:" >&2
    tail -40 "$out/$t.replay.log" >&2
    status=1
    continue
  fi
  ((secs > 0)) || { summary+=("$t: replayed ${#inputs[@]} inputs"); continue; }
  # 2. Fuzz: a memory limit well under the machine's, a timeout per input.
  log=$out/$t.log
  fork=()
  [[ $library_crash_targets == *" $t "* ]] && fork=(-fork=1 -ignore_crashes=1)
  art=$out/artifacts/$t  # this run's crashes, timeouts and leaks
  rm -rf "$art"
  mkdir -p "$art"
  if ! "$bin" "${dict[@]}" "${fork[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2560 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$art/" \
    "$work" "$seeds" >"$log" 2>&1 && ((${#fork[@]} == 0)); then
    echo "fuzz: $t FOUND A PROBLEM (artifacts in $art):" >&2
    grep -E "ERROR|SUMMARY|Test unit written|==[0-9]+==" "$log" | head -20 >&2
    status=1
  fi
  library=0
  if ((${#fork[@]})); then
    # Classify this run's crashes by the first frame outside the sanitizer runtime.
    for a in $(cd "$art" && ls | grep -E '^(crash|oom|timeout|leak)-' | grep -v '\.trace$'); do
      if "$bin" -rss_limit_mb=2560 -timeout=10 "$art/$a" >"$art/$a.trace" 2>&1; then
        # Fork mode can report a crash that the input alone does not cause (a child's state).
        echo "fuzz: $t: ${a%%-*} did not reproduce on its own ($a)"
        continue
      fi
      frame=$(grep -E '^ +#[0-9]+ 0x' "$art/$a.trace" |
        grep -vE 'in (__interceptor_|__asan|__sanitizer|__ubsan|__lsan|fuzzer::|operator new|malloc|calloc|realloc|free|raise|abort|__pthread_kill|__mem|__str)|compiler-rt|libsanitizer|libc\.so|sysdeps/' |
        head -1) || true
      # libhdf5 and the compression libraries it calls (a corrupt deflate stream, say).
      if [[ $frame =~ lib(hdf5|z|sz|aec)[._] ]]; then
        library=$((library + 1))
        kind=$(grep -m1 -oE 'ERROR: [A-Za-z]+: [a-z-]+' "$art/$a.trace" | cut -d' ' -f3) || true
        echo "fuzz: $t: libhdf5 ${a%%-*} ${kind:-}$(sed -E 's/^ *#[0-9]+ 0x[0-9a-f]+ (in ([^ ]+) )?.*/ in \2/' <<<"$frame") ($a)"
      else
        echo "fuzz: $t CRASHED outside libhdf5 ($a):" >&2
        head -30 "$art/$a.trace" >&2
        status=1
      fi
    done
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1) || true
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1) || true
  if [ -z "$execs" ]; then  # fork mode: the last progress line "#N: cov: ... exec/s: R ..."
    execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#') || true
    rate=$(grep -oE 'exec/s: [0-9]+' "$log" | tail -1 | cut -d' ' -f2) || true
  fi
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1) || true
  line="$t: ${execs:-?} execs in ${secs} s (${rate:-?}/s), ${cov:-cov: ?}, $(ls "$work" | wc -l) inputs in its work corpus"
  ((library)) && line+=", $library libhdf5 crashes/ooms (not ioca's, listed above)"
  summary+=("$line")
done
printf 'fuzz: %s\n' "${summary[@]}"
echo "fuzz: total $((SECONDS - start)) s"
[ "$status" -eq 0 ] && echo "fuzz: no crash, leak or timeout" || echo "fuzz: FAILED"
exit "$status"
