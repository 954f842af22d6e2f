#!/usr/bin/env bash
# The quick study through SLURM: jobs/study.sbatch on the local single-node cluster
# (jobs/local-slurm, started here if needed and then stopped again), 2 ranks x 1 thread.
# Checks the job completed and the results file is complete. (Job arrays and their merge:
# the `array` scenario of tests/slurm/multinode.sh, with the tasks on different nodes.)
# Usage: tests/slurm/quick_study.sh path/to/ioca     (exit 77: skipped, e.g. not root)
# IOCA_SLURM_TEST_TIMEOUT: seconds the job may take (default 600).
# shellcheck source=tests/slurm/lib.sh
source "$(dirname "$0")/lib.sh"

# The repository's quick study (real MNIST, 4 networks, 136 tasks; about 20 s here).
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

finish
