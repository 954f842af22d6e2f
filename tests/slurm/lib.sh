# shellcheck shell=bash
# Shared by the SLURM tests (tests/slurm/*.sh); source it with the ioca binary as $1.
#
# Gives: $ioca (absolute path), $repo, $tmp (removed at exit unless IOCA_TEST_KEEP=1 or a
# failure), pass, fail, check, finish, submit (sets $job_id), wait_job, job_field, show_log,
# root_attribute, test_study. Starts the local SLURM (jobs/local-slurm) unless it is
# already running, and stops it at exit only if it was started here. Exit status 77 means
# "skipped" (not root, or SLURM not installed): CTest's SKIP_RETURN_CODE.
# Settings: IOCA_SLURM_DIR (see jobs/local-slurm), IOCA_SLURM_TEST_TIMEOUT (seconds a job
# may take, default per test).
# A test that sets test_nodes=N (N >= 2) before sourcing runs on its own N-node cluster of
# hosts in network namespaces (jobs/local-slurm start --nodes N, state under
# /var/tmp/ioca-slurm-N-nodes, namespaces ioca-test-*); then the SLURM commands below run in
# the cluster's login namespace, and $tmp is under /var/tmp, which every node shares (each
# node has a /tmp of its own).
set -euo pipefail

if [ $# -lt 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 path/to/ioca   (an executable; got '${1:-}')" >&2
  exit 2
fi
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ioca=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
export ioca repo
local_slurm=$repo/jobs/local-slurm
test_name=$(basename "$0" .sh)

skip() {
  echo "SKIP $test_name: $*"
  exit 77
}
[ "$(id -u)" -eq 0 ] || skip "the local SLURM needs root"
for c in slurmctld slurmd sbatch munged h5dump h5diff h5ls; do
  command -v "$c" >/dev/null 2>&1 || skip "$c is not installed (./setup.sh installs the SLURM and HDF5 tools)"
done

failures=0
pass() { echo "ok   $1"; }
fail() {
  echo "FAIL $1"
  failures=$((failures + 1))
}
# check DESCRIPTION CMD...: pass if CMD succeeds, else fail.
check() {
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
finish() {
  if [ "$failures" -eq 0 ]; then
    echo "$test_name: all checks passed"
  else
    echo "$test_name: $failures checks failed"
  fi
  [ "$failures" -eq 0 ]
}

test_nodes=${test_nodes:-1}
if ((test_nodes > 1)); then
  for c in ip nsenter unshare; do
    command -v "$c" >/dev/null 2>&1 || skip "$c is not installed (Debian packages iproute2, util-linux)"
  done
  export IOCA_SLURM_DIR=/var/tmp/ioca-slurm-$test_nodes-nodes IOCA_SLURM_NETNS=ioca-test
  tmp=$(mktemp -d "/var/tmp/ioca-$test_name.XXXXXX")
  # Clients reach slurmctld from the cluster's login host only.
  sbatch() { "$local_slurm" exec sbatch "$@"; }
  squeue() { "$local_slurm" exec squeue "$@"; }
  scontrol() { "$local_slurm" exec scontrol "$@"; }
  scancel() { "$local_slurm" exec scancel "$@"; }
  sinfo() { "$local_slurm" exec sinfo "$@"; }
else
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/ioca-$test_name.XXXXXX")
fi
chmod 755 "$tmp"
started_slurm=0
submitted_jobs=()

cleanup() {
  local status=$?
  set +e
  # Never leave a test job behind (a no-op for finished jobs).
  ((${#submitted_jobs[@]} == 0)) || scancel "${submitted_jobs[@]}" >/dev/null 2>&1
  if ((started_slurm)); then
    "$local_slurm" stop >/dev/null 2>&1 || echo "$test_name: could not stop the local SLURM: run $local_slurm stop" >&2
  fi
  if [ "${IOCA_TEST_KEEP:-0}" = 1 ] || { [ "$status" -ne 0 ] && [ "$status" -ne 77 ]; }; then
    echo "$test_name: files kept in $tmp"
  else
    rm -rf "$tmp"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

eval "$("$local_slurm" env 2>/dev/null)" # SLURM_CONF
# One SLURM test at a time (ctest -j): the first one would stop the cluster under the other.
exec 9>"${TMPDIR:-/tmp}/ioca-slurm-tests.lock"
if ! flock -w 1800 9; then
  echo "FAIL $test_name: another SLURM test held ${TMPDIR:-/tmp}/ioca-slurm-tests.lock for 30 minutes" >&2
  exit 1
fi
if ! "$local_slurm" status >/dev/null 2>&1; then
  started_slurm=1
  # 9>&-: the daemons must not inherit the lock.
  "$local_slurm" start --nodes "$test_nodes" 9>&- ||
    { echo "FAIL $test_name: the local SLURM did not start" >&2; exit 1; }
fi

# submit SBATCH-ARGS...: sbatch --parsable; sets job_id (and remembers it for the cleanup).
submit() {
  job_id=$(sbatch --parsable "$@") || { echo "FAIL sbatch $*" >&2; return 1; }
  job_id=${job_id%%;*}
  submitted_jobs+=("$job_id")
  echo "     submitted job $job_id: sbatch $*"
}

# job_field ID FIELD: one field of `scontrol show job` (e.g. JobState, Restarts, ExitCode).
job_field() {
  scontrol show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# wait_job ID SECONDS: polls squeue until the job has left the queue (a requeued job stays in
# it); on timeout cancels the job and fails. Prints the states seen, once each.
wait_job() {
  local id=$1 secs=$2 start state last=
  start=$SECONDS
  while :; do
    # An array job lists one line per task: their states, once each.
    state=$(squeue -h -j "$id" -o %T 2>/dev/null | sort -u | paste -sd, - || true)
    [ -n "$state" ] || break
    if [ "$state" != "$last" ]; then
      echo "     job $id: $state after $((SECONDS - start)) s (restarts $(job_field "$id" Restarts))"
      last=$state
    fi
    if ((SECONDS - start > secs)); then
      scancel "$id" >/dev/null 2>&1 || true
      echo "FAIL job $id did not finish within $secs s; cancelled"
      return 1
    fi
    sleep 0.5
  done
  echo "     job $id: $(job_field "$id" JobState) after $((SECONDS - start)) s (restarts $(job_field "$id" Restarts), exit code $(job_field "$id" ExitCode))"
}

# show_log FILE: the job's output, indented.
show_log() {
  echo "---- $1"
  sed 's/^/  | /' "$1" 2>/dev/null || echo "  (no output file)"
  echo "----"
}

# root_attribute FILE NAME: the value of a scalar root attribute, via h5dump.
root_attribute() {
  h5dump -a "/$2" "$1" 2>/dev/null | sed -n 's/^ *(0): *//p' | head -n 1
}

# test_study FILE: the study of the tests that exercise the cluster rather than a data set
# (several hosts, killed ranks, lost nodes, arrays): synthetic data, 4 networks, 88 tasks,
# every kind of task (training, measures, single-neuron damage, sweeps of every scope). About
# 6 s on 2 ranks here and 8 s on 6 ranks of 2 cores, so a job is still running a few seconds
# after its first checkpoint (at checkpoint_interval 1), and a third of the quick study's
# CPU time. tests/slurm/quick_study.sh runs the repository's quick study on real MNIST.
test_study() {
  cat >"$1" <<INI
name = slurm-test
[data]
datasets = synthetic
synthetic_samples = 30000
synthetic_test_samples = 5000
synthetic_features = 64
validation_size = 2000
[network]
hidden = 64x32
activations = relu, tanh
seeds = 1, 2
[train]
epochs = 3
[ablation]
quantities = entropy, mutual_information, kl_selectivity, selectivity_index, outgoing_l2, single_damage
random = 8
[run]
checkpoint_interval = 5
INI
}
