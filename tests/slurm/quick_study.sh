#!/usr/bin/env bash
# The quick study through SLURM: jobs/study.sbatch on the local single-node cluster
# (jobs/local-slurm, started here if needed and then stopped again), 2 ranks x 1 thread.
# Checks the job completed and the results file is complete. Then the same study as a
# 2-task job array (jobs/array.sbatch, one seed per task), merged with `ioca merge`: the
# merged file must equal the single job's outside /provenance.
# Usage: tests/slurm/quick_study.sh path/to/ioca     (exit 77: skipped, e.g. not root)
# IOCA_SLURM_TEST_TIMEOUT: seconds the job may take (default 600).
# shellcheck source=tests/slurm/lib.sh
source "$(dirname "$0")/lib.sh"

# The repository's quick study (real MNIST, 4 networks, 136 tasks; about a minute here).
cp "$repo/jobs/studies/quick.ini" "$tmp/study.ini"
export IOCA_DATA="${IOCA_DATA:-$repo/data}"

# Submitted from the temporary folder, not the checkout: study.sbatch must find the
# checkout (jobs/lib/ioca-job.sh) from its submitted path. IOCA_BIN picks the binary.
cd "$tmp" || exit 1
submit --job-name=ioca-quick -n 2 -c 1 --output="$tmp/job.out" \
  --export=ALL,IOCA_BIN="$ioca" "$repo/jobs/study.sbatch" "$tmp/study.ini" "$tmp/results.h5"
wait_job "$job_id" "${IOCA_SLURM_TEST_TIMEOUT:-600}" || true
show_log "$tmp/job.out"

state=$(job_field "$job_id" JobState)
code=$(job_field "$job_id" ExitCode)
check "job $job_id completed (state $state)" [ "$state" = COMPLETED ]
check "exit code 0:0 (got $code)" [ "$code" = 0:0 ]
check "the job ran 2 ranks x 1 thread" grep -q "tasks 2 x 1 thread$" "$tmp/job.out"

if h5ls "$tmp/results.h5" >/dev/null 2>&1; then
  pass "results.h5 is an HDF5 file"
  complete=$(root_attribute "$tmp/results.h5" complete)
  check "root attribute complete = 1 (got '$complete')" [ "$complete" = 1 ]
  networks=$(h5dump -d /networks/name "$tmp/results.h5" 2>/dev/null | grep -o '"[^"\\]*' | tr -d '"' | tr '\n' ' ')
  case $networks in
    *mnist-relu-64x32-s1*mnist-relu-64x32-s2*mnist-tanh-64x32-s1*mnist-tanh-64x32-s2*) pass "networks: $networks" ;;
    *) fail "networks in /networks: '$networks' (wanted mnist-{relu,tanh}-64x32-s{1,2})" ;;
  esac
else
  fail "no readable results.h5"
fi
check "no checkpoint left behind" [ ! -e "$tmp/results.h5.checkpoint" ]

# --- the same seeds as a job array: each task runs one seed into parts-<task>.h5
submit --job-name=ioca-array --array=0-1 -n 1 -c 1 --output="$tmp/array-%a.out" \
  --export=ALL,IOCA_BIN="$ioca" "$repo/jobs/array.sbatch" "$tmp/study.ini" "$tmp/parts"
array_id=$job_id
wait_job "$array_id" "${IOCA_SLURM_TEST_TIMEOUT:-600}" || true
for task in 0 1; do
  show_log "$tmp/array-$task.out"
  state=$(job_field "${array_id}_$task" JobState)
  check "array task $task completed (state $state)" [ "$state" = COMPLETED ]
done
check "array task 0 ran seed 1" grep -q "seeds 1 (of 2)" "$tmp/array-0.out"
check "array task 1 ran seed 2" grep -q "seeds 2 (of 2)" "$tmp/array-1.out"
if "$ioca" merge "$tmp/merged.h5" "$tmp/parts-0.h5" "$tmp/parts-1.h5" 2>"$tmp/merge.err"; then
  pass "ioca merge merged.h5 parts-0.h5 parts-1.h5"
  if h5diff --exclude-path /provenance "$tmp/results.h5" "$tmp/merged.h5" >"$tmp/h5diff.out" 2>&1; then
    pass "the merged array job equals the single job (h5diff --exclude-path /provenance)"
  else
    fail "the merged array job differs from the single job: $(head -n 5 "$tmp/h5diff.out")"
  fi
else
  fail "ioca merge: $(cat "$tmp/merge.err")"
fi
finish
