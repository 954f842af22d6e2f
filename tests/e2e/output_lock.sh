#!/usr/bin/env bash
# One writer per output: `ioca run` holds <out>.lock. A second run on the same output is
# refused, naming the holder, with or without --resume, and --force never breaks a live
# holder's lock; a lock left by a run that died on this host is taken over; one on another
# host is refused unless --force, except when it is an earlier run of the same SLURM job (a
# requeued job); a run that ends removes its lock.
# usage: output_lock.sh IOCA MPIEXEC SHIM
set -uo pipefail
ioca=$1 mpiexec=$2 shim=$3
source "$(dirname "$0")/../mpi/lib.sh"
cd "$tmp"
# A tiny study (a few tasks) that checkpoints at its first synchronisation.
cat >study.ini <<'INI'
name = lock
[data]
datasets = synthetic
synthetic_samples = 1500
synthetic_test_samples = 500
synthetic_features = 16
validation_size = 500
[network]
hidden = 12
activations = relu
seeds = 1
[train]
epochs = 1
[ablation]
quantities = entropy
random = 1
[run]
checkpoint_interval = 0
INI
host=$(hostname)

# 1. Two real runs on one output: the first is held (by the test shim) just before it
# creates its first checkpoint file, the second is refused meanwhile, then the first ends.
IOCA_FAULT_PATH=a.h5.checkpoint.tmp IOCA_FAULT_ACTION=pause IOCA_FAULT_RANK=0 \
  IOCA_FAULT_PAUSED=$tmp/paused IOCA_FAULT_CONTINUE=$tmp/continue \
  "$mpiexec" -q -n 2 --oversubscribe --bind-to none -x OMP_NUM_THREADS=1 \
  -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM -x LD_PRELOAD="$shim" \
  -x IOCA_FAULT_PATH -x IOCA_FAULT_ACTION -x IOCA_FAULT_RANK -x IOCA_FAULT_PAUSED \
  -x IOCA_FAULT_CONTINUE "$ioca" run --config study.ini --out a.h5 --quiet 2>first.err &
first=$!
for ((i = 0; i < 600; i++)); do [ -e paused ] && break; sleep 0.05; done
[ -e paused ] || fail "the first run did not reach its checkpoint"
for extra in "" --resume "--resume --force"; do
  expect_status 2 "second run on the same output${extra:+ with $extra}: refused" \
    run_ranks 1 1 run --config study.ini --out a.h5 $extra --quiet
  echo "     $(cat err)"
  grep -q "a.h5: is being written by another run (host $host, pid [0-9]*, started" err &&
    pass "  ... naming the holder's host and pid" || fail "  ... the message does not name the holder"
done
touch continue
wait $first && pass "the first run completed undisturbed" || fail "the first run failed: $(cat first.err)"
[ ! -e a.h5.lock ] && pass "a finished run removes its lock" || fail "a.h5.lock left after the run"
h5dump -a /complete a.h5 | grep -q '(0): 1' && pass "the first run's results are complete" ||
  fail "a.h5 is not complete"

# lock_file HOST PID [SLURM_JOB RESTART]: a lock as ioca writes it.
lock_file() {
  printf 'ioca run lock: one writer per output\nhost=%s\npid=%s\npid_start=0\nstarted=2026-01-01T00:00:00Z\nslurm_job=%s\nslurm_restart=%s\n' \
    "$1" "$2" "${3:-}" "${4:-0}" >a.h5.lock
}

# 2. (A live holder planted by hand: the unit tests; case 1 is a real one.)
# 3. A holder that died on this host: taken over (--resume of the complete file: nothing to do).
sh -c 'exit 0' &
dead=$!
wait $dead
lock_file "$host" $dead
expect_status 0 "a lock left by a dead run on this host is taken over" \
  run_ranks 1 1 run --config study.ini --out a.h5 --resume
grep -q "took over the lock of a run that has ended (host $host, pid $dead" err &&
  pass "  ... and says so" || fail "  ... no note: $(cat err)"
[ ! -e a.h5.lock ] && pass "  ... and releases it" || fail "  ... a.h5.lock left"

# 4. A holder on another host cannot be checked: refused, unless --force.
lock_file elsewhere 4242
expect_status 2 "a lock held on another host is refused" \
  run_ranks 1 1 run --config study.ini --out a.h5 --resume --quiet
echo "     $(cat err)"
grep -q "locked by a run on elsewhere.*use --force to break the lock" err &&
  pass "  ... suggesting --force" || fail "  ... $(cat err)"
expect_status 0 "--force breaks a lock that cannot be checked" \
  run_ranks 1 1 run --config study.ini --out a.h5 --resume --force
grep -q "broke the lock" err && pass "  ... and says so" || fail "  ... $(cat err)"

# 5. A requeued SLURM job finds the lock of its own earlier run, from any host.
lock_file elsewhere 4242 77 0
SLURM_JOB_ID=77 SLURM_RESTART_COUNT=1 expect_status 0 \
  "the lock of an earlier run of the same SLURM job is taken over" \
  run_ranks 1 1 run --config study.ini --out a.h5 --resume
lock_file elsewhere 4242 77 1
SLURM_JOB_ID=78 SLURM_RESTART_COUNT=1 expect_status 2 "another SLURM job's lock is refused" \
  run_ranks 1 1 run --config study.ini --out a.h5 --resume

# 6. A file in the lock's place that is not a lock: refused, named.
echo "not a lock" >a.h5.lock
expect_status 2 "a foreign file in the lock's place is refused" \
  run_ranks 1 1 run --config study.ini --out a.h5 --resume --force --quiet
grep -q "a.h5.lock, which is not an ioca lock file" err && pass "  ... naming it" || fail "  ... $(cat err)"
rm -f a.h5.lock

finish output_lock
