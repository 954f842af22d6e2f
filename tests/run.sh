#!/usr/bin/env bash
# Every test of ioca: C++ unit, end-to-end, MPI and SLURM tests through CTest, the Python
# tests, then the checking builds: the unit and MPI tests under ASan + UBSan + LSan
# (tests/sanitize.sh) and a short fuzz run of every reader (tests/fuzz/run.sh).
# Usage: tests/run.sh [--no-checking-builds]
#   --no-checking-builds  skip the sanitizer build and the fuzzing (about 15 minutes on a
#                         2-core machine when their build directories are new)
# Expects ./setup.sh to have built build/.
set -euo pipefail
cd "$(dirname "$0")/.."
checking=1
case ${1:-} in
  "") ;;
  --no-checking-builds) checking=0 ;;
  *) echo "usage: tests/run.sh [--no-checking-builds]" >&2; exit 2 ;;
esac
start=$SECONDS
# Seconds per stage, printed at the end (also after a failure): where CI time goes.
stages=() stage_name="" stage_start=$SECONDS
stage() {  # stage NAME: the previous stage ends here, NAME begins ("" ends the last one)
  [ -z "$stage_name" ] || stages+=("$(printf '%-36s %5d s' "$stage_name" $((SECONDS - stage_start)))")
  stage_name=$1 stage_start=$SECONDS
}
print_stages() {
  ((${#stages[@]})) || return 0
  echo "tests: time per stage"
  printf '  %s\n' "${stages[@]}"
  printf '  %-36s %5d s\n' "total" $((SECONDS - start))
}
if ((checking)); then
  # The checking builds compile at the lowest priority while CTest runs, on the CPU time the
  # tests leave idle (waits, single-threaded steps). CTest runs slower beside them, but on a
  # 2-core machine the whole run still ends 40-60 s sooner than building afterwards.
  mkdir -p build
  setsid nice -n 19 bash -c 'tests/sanitize.sh --build-only && tests/fuzz/run.sh build' \
    >build/checking-builds.log 2>&1 &
  builder=$!
fi
cleanup() {
  local status=$?
  ((status == 0)) || stage_name+=" (failed)"
  stage ""
  print_stages
  [ -z "${builder:-}" ] || kill -- -"$builder" 2>/dev/null || true
}
trap cleanup EXIT
# Tests run one at a time: several run two OpenMP threads each, and the machines this runs
# on have few cores (oversubscribed OpenMP barriers are slow, not wrong).
stage "ctest (unit, e2e, mpi, slurm)"
ctest --test-dir build --output-on-failure --timeout 900
stage "pytest (analysis)"
(cd analysis && /usr/bin/python3 -m pytest -q -p no:cacheprovider --durations=8 tests)
stage ""
echo "tests: ctest and pytest passed in $((SECONDS - start)) s"
((checking)) || exit 0
stage "waiting for the checking builds"
if ! wait "$builder"; then
  echo "tests: the checking builds failed:" >&2
  tail -40 build/checking-builds.log >&2
  exit 1
fi
grep -E '^(sanitize|fuzz): built' build/checking-builds.log
stage "sanitizers (unit, mpi)"
tests/sanitize.sh
stage "fuzz (replay, then explore)"
# Fuzzing: replay every committed corpus and regression input, then explore a little from
# them (IOCA_FUZZ_SECONDS per target). fuzz_model, raw bytes into libhdf5, is only replayed
# here: fuzzing it soon finds libhdf5's own bugs, which are not ioca's and would make this
# run fail at random. Longer runs of every target: tests/fuzz/README.md.
tests/fuzz/run.sh 0 fuzz_model
tests/fuzz/run.sh "${IOCA_FUZZ_SECONDS:-15}" fuzz_idx fuzz_cifar10 fuzz_model_struct fuzz_config
stage ""
echo "tests: all passed in $((SECONDS - start)) s"
