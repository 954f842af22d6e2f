#!/usr/bin/env bash
# Time limit → checkpoint → requeue → resume, through SLURM (jobs/study.sbatch on the local
# cluster). The job gets a 1-minute limit with --signal=B:USR1@20: SLURM signals the batch
# script 20-50 s before the limit (its timer ticks every 30 s), the script has ioca
# checkpoint (exit status 3) and requeues the job, which then resumes. Checks the job was
# requeued (Restarts >= 1 in scontrol show job), completed, and that its results equal an
# uninterrupted run outside SLURM (h5diff --exclude-path /provenance).
#
# Usage: tests/slurm/requeue.sh path/to/ioca       (exit 77: skipped, e.g. not root)
# Settings:
#   IOCA_REQUEUE_MODE=timelimit (default) | signal: `signal` skips the time limit and sends
#       the batch script SIGUSR1 itself (scancel --batch --signal=USR1) after
#       IOCA_REQUEUE_SIGNAL_AFTER seconds of running (default 5): quicker, and independent
#       of the study's length.
#   IOCA_REQUEUE_CONFIG=FILE: the study to run instead of the built-in one. In timelimit
#       mode it must take longer than ~45 s uninterrupted on one core, or no signal comes
#       (the test says so).
#   IOCA_SLURM_TEST_TIMEOUT: seconds the job may take in all (default 900).
# shellcheck source=tests/slurm/lib.sh
source "$(dirname "$0")/lib.sh"

mode=${IOCA_REQUEUE_MODE:-timelimit}
case $mode in timelimit | signal) ;; *) echo "IOCA_REQUEUE_MODE=$mode: use timelimit or signal" >&2; exit 2 ;; esac

if [ -n "${IOCA_REQUEUE_CONFIG:-}" ]; then
  cp "$IOCA_REQUEUE_CONFIG" "$tmp/study.ini"
else
  # About 80 s on one core here (longer than the first signal can come), in 260 short tasks
  # (a run signalled early still gets some done), checkpointed every 5 s. In signal mode 2
  # of the 10 seeds (about 15 s): the signal comes 5 s into the run, whatever its length.
  seeds="1, 2, 3, 4, 5, 6, 7, 8, 9, 10"
  [ "$mode" = timelimit ] || seeds="1, 2"
  cat >"$tmp/study.ini" <<INI
name = slurm-requeue
[data]
datasets = synthetic
synthetic_samples = 20000
synthetic_test_samples = 2000
synthetic_features = 64
validation_size = 2000
[network]
hidden = 128x128
activations = relu, tanh
seeds = $seeds
[train]
epochs = 20
[ablation]
random = 5
[run]
checkpoint_interval = 5
INI
fi

# The uninterrupted reference, outside SLURM, at the same time as the job (1 core each).
echo "     reference run: $ioca run --config study.ini --out reference.h5"
(
  export OMP_NUM_THREADS=1
  [ "$(id -u)" -ne 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  start=$SECONDS status=0
  timeout "${IOCA_SLURM_TEST_TIMEOUT:-900}" "$ioca" run --config "$tmp/study.ini" --out "$tmp/reference.h5" \
    >"$tmp/reference.log" 2>&1 || status=$?
  echo "$((SECONDS - start))" >"$tmp/reference.seconds"
  exit "$status"
) 9>&- &
reference_pid=$!

cd "$tmp" || exit 1
# shellcheck disable=SC2054 # --export takes a comma-separated list
sbatch_args=(--job-name=ioca-requeue -n 1 -c 1 --output="$tmp/job.out" --export=ALL,IOCA_BIN="$ioca")
if [ "$mode" = timelimit ]; then
  sbatch_args+=(--time=1 --signal=B:USR1@20)
fi
submit "${sbatch_args[@]}" "$repo/jobs/study.sbatch" "$tmp/study.ini" "$tmp/results.h5"

if [ "$mode" = signal ]; then
  # Wait for the job to run a few seconds, then signal the batch script as --signal=B:USR1 would.
  for ((i = 0; i < 120; i++)); do
    [ "$(job_field "$job_id" JobState)" = RUNNING ] && break
    sleep 1
  done
  sleep "${IOCA_REQUEUE_SIGNAL_AFTER:-5}"
  echo "     scancel --batch --signal=USR1 $job_id"
  scancel --batch --signal=USR1 "$job_id" || fail "scancel --batch --signal=USR1 $job_id"
fi

wait_job "$job_id" "${IOCA_SLURM_TEST_TIMEOUT:-900}" || true
show_log "$tmp/job.out"

state=$(job_field "$job_id" JobState)
restarts=$(job_field "$job_id" Restarts)
check "job $job_id completed (state $state, exit code $(job_field "$job_id" ExitCode))" [ "$state" = COMPLETED ]
echo "     scontrol show job $job_id: $(scontrol show job "$job_id" | grep -o 'Requeue=[0-9]* Restarts=[0-9]*')"
if [ "${restarts:-0}" -ge 1 ] 2>/dev/null; then
  pass "the job was requeued (Restarts=$restarts)"
else
  fail "the job was not requeued (Restarts=${restarts:-?})"
  [ "$mode" = timelimit ] &&
    echo "     (the study may have finished before SLURM's time-limit signal: give a longer one in IOCA_REQUEUE_CONFIG, or use IOCA_REQUEUE_MODE=signal)"
fi
check "ioca checkpointed with exit status 3" grep -q "ioca checkpointed (exit status 3)" "$tmp/job.out"
check "the job requeued itself" grep -q "requeueing job $job_id (restart 1)" "$tmp/job.out"
check "the job ran again as restart 1" grep -q "restart 1, nodes" "$tmp/job.out"

if wait "$reference_pid"; then
  pass "reference run finished in $(cat "$tmp/reference.seconds") s"
else
  fail "reference run failed: $(tail -n 3 "$tmp/reference.log")"
fi
complete=$(root_attribute "$tmp/results.h5" complete)
check "results.h5 complete = 1 (got '$complete')" [ "$complete" = 1 ]
if h5diff --exclude-path /provenance "$tmp/reference.h5" "$tmp/results.h5" >"$tmp/h5diff.out" 2>&1; then
  pass "requeued results equal the uninterrupted run (h5diff --exclude-path /provenance)"
else
  fail "requeued results differ from the uninterrupted run: $(head -n 20 "$tmp/h5diff.out")"
fi
check "no checkpoint left behind" [ ! -e "$tmp/results.h5.checkpoint" ]
finish
