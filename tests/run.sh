#!/usr/bin/env bash
# Every test of ioca, in three streams that run side by side (the SLURM tests mostly wait on
# the scheduler, and a build or a test alone leaves one of two cores idle much of the time):
#   main      CTest's unit, end-to-end and MPI tests, then the Python tests
#   slurm     CTest's SLURM tests (a local cluster; the requeue test signals its job itself,
#             IOCA_REQUEUE_MODE=signal, unless the variable says otherwise)
#   checking  the sanitizer build (build-asan/: ASan + UBSan + LSan), then in it the unit
#             and MPI tests (every rank) and the replay of the fuzz corpora
#             (tests/sanitize.sh). Fuzzing beyond the replay: tests/fuzz/run.sh.
# Usage: tests/run.sh [--no-checking-builds]
#   --no-checking-builds  skip the sanitizer build and its tests
# Expects ./setup.sh to have built build/. Each stream's log is build/test-logs/<stream>.log
# (the main stream prints to the terminal); a failed stream's log is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
checking=1
case ${1:-} in
  "") ;;
  --no-checking-builds) checking=0 ;;
  *) echo "usage: tests/run.sh [--no-checking-builds]" >&2; exit 2 ;;
esac
start=$SECONDS
logs=build/test-logs
rm -rf "$logs"
mkdir -p "$logs"
# Each stage appends "stream<TAB>name<TAB>start<TAB>seconds<TAB>cpu<TAB>status" to
# $logs/stages, printed at the end (also after a failure): where CI time goes, what overlapped,
# and the CPU seconds each stage used (user + system of the processes it waited for; not the
# SLURM jobs, which slurmd runs), which say more than wall time on a shared machine.
export IOCA_STAGES=$PWD/$logs/stages IOCA_RUN_START=$(date +%s)
stage() {  # stage STREAM NAME CMD...: runs CMD, records its time and status
  local stream=$1 name=$2 t0 status=0 cpu
  shift 2
  t0=$(date +%s)
  /usr/bin/time -f '%U %S' -o "$IOCA_STAGES.$stream" "$@" || status=$?
  cpu=$(tail -n 1 "$IOCA_STAGES.$stream" | awk '{ printf "%d", $1 + $2 }')
  printf '%s\t%s\t%d\t%d\t%s\t%s\n' "$stream" "$name" $((t0 - IOCA_RUN_START)) $(($(date +%s) - t0)) \
    "${cpu:-?}" "$( ((status == 0)) && echo ok || echo "FAILED ($status)")" >>"$IOCA_STAGES"
  return "$status"
}
print_stages() {
  [ -s "$IOCA_STAGES" ] || return 0
  echo "tests: time per stage (streams ran side by side; start = seconds after tests/run.sh began)"
  printf '  %-9s %-40s %6s %6s %6s  %s\n' stream stage start secs cpu-s status
  sort -t$'\t' -k3,3n "$IOCA_STAGES" | while IFS=$'\t' read -r stream name t0 secs cpu status; do
    printf '  %-9s %-40s %6d %6d %6s  %s\n' "$stream" "$name" "$t0" "$secs" "$cpu" "$status"
  done
  printf '  %-9s %-40s %6s %6d\n' "" "total (wall)" "" $((SECONDS - start))
}
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -- -"$p" 2>/dev/null || true; done
  print_stages
}
trap cleanup EXIT
export -f stage

# Quicker than the 1-minute time limit and as thorough for ioca's part: the batch script gets
# SIGUSR1 as --signal=B:USR1 would send it (tests/slurm/requeue.sh).
export IOCA_REQUEUE_MODE=${IOCA_REQUEUE_MODE:-signal}
# setsid: each stream in its own process group, killed as a whole if the run is aborted.
setsid bash -c 'stage slurm "ctest -L slurm (SLURM, multinode)" \
  ctest --test-dir build -L slurm --output-on-failure --timeout 1500' >"$logs/slurm.log" 2>&1 &
pids+=($!)
slurm=$!
if ((checking)); then
  setsid bash -c 'stage checking "sanitizer build (build-asan)" tests/sanitize.sh --build-only &&
    stage checking "sanitizers (unit, mpi, fuzz replay)" tests/sanitize.sh --no-build' \
    >"$logs/checking.log" 2>&1 &
  pids+=($!)
  checker=$!
fi

# The main stream, one test at a time: several run two OpenMP threads each.
main_status=0
stage main "ctest (unit, e2e, mpi)" ctest --test-dir build -LE slurm --output-on-failure --timeout 900 ||
  main_status=1
stage main "pytest (analysis)" \
  bash -c 'cd analysis && /usr/bin/python3 -m pytest -q -p no:cacheprovider --durations=8 tests' ||
  main_status=1

status=$main_status
failed=()
((main_status == 0)) || failed+=(main)
streams=(slurm)
((checking)) && streams+=(checking)
for s in "${streams[@]}"; do
  pid=$slurm
  [ "$s" = slurm ] || pid=$checker
  if wait "$pid"; then
    echo "tests: the $s stream passed (log: $logs/$s.log)"
  else
    status=1
    failed+=("$s")
  fi
done
for s in "${failed[@]}"; do
  [ "$s" = main ] && continue
  echo "tests: the $s stream FAILED; its log, $logs/$s.log:" >&2
  cat "$logs/$s.log" >&2
done
pids=()
if ((status == 0)); then
  echo "tests: all passed in $((SECONDS - start)) s"
else
  echo "tests: FAILED (${failed[*]}) after $((SECONDS - start)) s" >&2
fi
exit "$status"
