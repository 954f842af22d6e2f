#!/usr/bin/env bash
# ioca run interrupted and resumed: after SIGKILL (losing at most the work since the last
# checkpoint) and after SIGTERM (a clean checkpoint and exit status 3) the resumed run's
# results equal an uninterrupted run's. A resume with another config is refused unless
# --force; a damaged checkpoint is detected, never reused.
# usage: resume.sh IOCA MPIEXEC
set -uo pipefail
ioca=$1 mpiexec=$2
source "$(dirname "$0")/lib.sh"
cd "$tmp"
# Checkpoints as often as possible (after every synchronisation), so kills land between them;
# enough sweeps (3 seeds, 8 random orders) that a run is still busy after its first
# checkpoints. A build that runs several times slower (IOCA_TEST_SLOW_BUILD=1: the sanitizers)
# is still busy with the default study of 2 seeds and 3 random orders, half the work: most
# of this test's runs are whole studies, resumed.
study_config study.ini
sed -i 's/^checkpoint_interval = 60/checkpoint_interval = 0/' study.ini
[ "${IOCA_TEST_SLOW_BUILD:-0}" = 1 ] ||
  sed -i 's/^seeds = 1, 2$/seeds = 1, 2, 3/; s/^random = 3$/random = 8/' study.ini
# Runs that are not interrupted checkpoint rarely (run.* keys are not part of the study).
rare="--run.checkpoint_interval 60"
run_ranks 1 2 run --config study.ini $rare --out ref.h5 --quiet || fail "reference run"

# wait_for FILE SECONDS: until FILE exists.
wait_for() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    [ -e "$1" ] && return 0
    sleep 0.1
  done
  return 1
}

for sig in KILL TERM; do
  out=$sig.h5
  run_ranks 2 1 run --config study.ini --out "$out" --quiet 2>"$sig.err" &
  job=$!
  # Once the base and two segments are written: mid-way through the sweeps.
  if ! wait_for "$out.checkpoint.2" 60; then
    fail "SIG$sig: no checkpoint appeared"
    wait $job
    continue
  fi
  signal_ranks "$sig" "$job"
  [ "$sig" = KILL ] && kill -KILL $(descendants "$job") "$job" 2>/dev/null
  wait $job
  status=$?
  if [ "$sig" = TERM ]; then
    [ "$status" -eq 3 ] && pass "SIGTERM: exit status 3 (interrupted, checkpoint written)" ||
      fail "SIGTERM: exit status $status, wanted 3: $(cat "$sig.err")"
    h5dump -a /complete "$out.checkpoint" | grep -q '(0): 0' &&
      pass "SIGTERM: the checkpoint is a readable, incomplete results file" ||
      fail "SIGTERM: the checkpoint is not readable"
  fi
  [ ! -e "$out" ] && pass "SIG$sig: no final results file after the interruption" ||
    fail "SIG$sig: a final results file exists after the interruption"
  run_ranks 2 1 run --config study.ini $rare --out "$out" --resume 2>"$sig.resume.err" >/dev/null
  status=$?
  before=$(sed -n 's/.*(\([0-9]*\) done before).*/\1/p' "$sig.resume.err")
  if [ "$status" -eq 0 ] && [ "${before:-0}" -gt 0 ]; then
    pass "SIG$sig: resumed from $before finished tasks"
  else
    fail "SIG$sig: resume exit $status, tasks done before '${before}': $(tail -3 "$sig.resume.err")"
  fi
  h5diff --exclude-path /provenance ref.h5 "$out" >"$sig.diff" 2>&1 &&
    pass "SIG$sig: resumed results equal the uninterrupted run's" ||
    fail "SIG$sig: resumed results differ: $(head -5 "$sig.diff")"
  [ ! -e "$out.checkpoint" ] && pass "SIG$sig: checkpoint removed once complete" ||
    fail "SIG$sig: checkpoint left behind"
done

# A chain compacted into a new base every 2 segments, killed and resumed: the same results,
# and never more than the base and 2 segments on disk.
run_ranks 2 1 run --config study.ini --run.checkpoint_segments 2 --out short.h5 --quiet 2>short.err &
job=$!
most=0
for ((i = 0; i < 600; i++)); do
  n=$(ls | grep -c '^short\.h5\.checkpoint\(\.[0-9]*\)\?$')
  ((n > most)) && most=$n
  [ -e short.h5.checkpoint.2 ] && ((i > 20)) && break
  sleep 0.05
done
kill -KILL $(descendants "$job") "$job" 2>/dev/null
wait $job 2>/dev/null
run_ranks 1 1 run --config study.ini --run.checkpoint_segments 2 --out short.h5 --resume --quiet 2>>short.err
h5diff --exclude-path /provenance ref.h5 short.h5 >short.diff 2>&1 &&
  pass "a chain compacted every 2 segments, killed and resumed: equal to the uninterrupted run" ||
  fail "compacted chain: differs: $(head -5 short.diff) $(tail -3 short.err)"
((most <= 3)) && pass "at most a base and 2 segments on disk (saw $most files)" ||
  fail "$most checkpoint files on disk, wanted at most 3"

# A finished study resumed again: nothing to do.
expect_status 0 "resume of a complete study does nothing" run_ranks 1 1 run --config study.ini \
  --out ref.h5 --resume --quiet

# Another config on --resume: refused, unless --force (which starts over).
run_ranks 2 1 run --config study.ini --out other.h5 --quiet 2>/dev/null &
job=$!
wait_for other.h5.checkpoint 60 && sleep 0.3
signal_ranks TERM "$job"
wait $job
expect_status 2 "resume with another config is refused" run_ranks 1 1 run --config study.ini \
  --train.epochs 3 --out other.h5 --resume --quiet
grep -q "different study config" "$tmp/err" && pass "the refusal says why" || fail "refusal unclear: $(cat "$tmp/err")"
expect_status 0 "--force starts over" run_ranks 1 1 run --config study.ini --train.epochs 3 \
  $rare --out other.h5 --resume --force --quiet

# Damaged checkpoints. A run killed while its checkpoint has segments (the base and the files
# of what finished since, see src/study/checkpoint.hpp); each damage is made to a fresh copy
# of those files. (A checkpoint may rewrite the base and drop the segments at any time, so
# the kill is tried again until it lands while there are at least two.)
for attempt in 1 2 3 4 5; do
  rm -f dmg.h5*
  run_ranks 2 1 run --config study.ini --out dmg.h5 --quiet 2>/dev/null &
  job=$!
  wait_for dmg.h5.checkpoint.2 60
  kill -KILL $(descendants "$job") "$job" 2>/dev/null
  wait $job 2>/dev/null
  segments=$(ls | grep -c '^dmg\.h5\.checkpoint\.[0-9]*$')
  [ "$segments" -ge 2 ] && [ ! -e dmg.h5 ] && break
done
mkdir saved && cp dmg.h5.checkpoint* saved/
[ "$segments" -ge 2 ] && pass "the checkpoint has a base and $segments segments" ||
  fail "the checkpoint has $segments segments, wanted at least 2"
rm -f saved/*.tmp
restore() { rm -f dmg.h5.checkpoint*; cp saved/dmg.h5.checkpoint* .; }
# change_value FILE: adds 1 to the first float64 value of the file (/data/f64).
change_value() {
  /usr/bin/python3 - "$1" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    f["data/f64"][0] += 1
PY
}
resume_dmg() { run_ranks 1 1 run --config study.ini --out dmg.h5 --resume --quiet; }
for file in dmg.h5.checkpoint dmg.h5.checkpoint.1; do
  restore
  change_value "$file"
  expect_status 2 "$file with a changed value is detected" resume_dmg
  grep -q "$file: .*checksum" "$tmp/err" && pass "the error names $file and the checksum" ||
    fail "unclear: $(cat "$tmp/err")"
  restore
  head -c 20000 "saved/$file" >"$file"
  expect_status 2 "$file truncated is detected" resume_dmg
  grep -q "$file" "$tmp/err" && pass "the error names $file" || fail "unclear: $(cat "$tmp/err")"
done
restore
rm dmg.h5.checkpoint.1
expect_status 2 "a missing segment is detected" resume_dmg
grep -q "segment 1 of this checkpoint is missing" "$tmp/err" && pass "the error says which" ||
  fail "unclear: $(cat "$tmp/err")"
[ ! -e dmg.h5 ] && pass "no results file from a damaged checkpoint" || fail "results file written"
# A segment of another chain (left over from an older base) is ignored.
restore
cp saved/dmg.h5.checkpoint.1 "dmg.h5.checkpoint.$((segments + 1))"
/usr/bin/python3 -c 'import sys, h5py; h5py.File(sys.argv[1], "r+").attrs["checkpoint_id"] = "0123456789abcdef"' \
  "dmg.h5.checkpoint.$((segments + 1))"
echo "a write cut short" >"dmg.h5.checkpoint.$((segments + 2)).tmp"  # a kill mid-write leaves this
expect_status 0 "a segment of another chain is ignored" resume_dmg
h5diff --exclude-path /provenance ref.h5 dmg.h5 >dmg.diff 2>&1 &&
  pass "resumed from base and segments: equal to the uninterrupted run" ||
  fail "resumed from base and segments: differs: $(head -5 dmg.diff)"
[ -z "$(ls dmg.h5.* 2>/dev/null)" ] && pass "every checkpoint file removed once complete" ||
  fail "checkpoint files left: $(ls dmg.h5.*)"
# A checkpoint written by the ioca before segments and before results format 2: a base in
# format 1 without checkpoint_id and checkpoint_segment, no segments. It is resumed alone
# (and its tasks are not run again).
rm -f dmg.h5*
run_single convert saved/dmg.h5.checkpoint old.h5.checkpoint --format 1 --quiet || fail "convert to format 1"
/usr/bin/python3 -c 'import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    del f.attrs["checkpoint_id"]; del f.attrs["checkpoint_segment"]' old.h5.checkpoint
expect_status 0 "a checkpoint of the ioca before segments is resumed" run_ranks 2 1 run \
  --config study.ini --out old.h5 --resume
before=$(sed -n 's/.*(\([0-9]*\) done before).*/\1/p' "$tmp/err")
[ "${before:-0}" -gt 0 ] && pass "it resumed from its $before tasks" ||
  fail "it did not resume from the old checkpoint: $(head -3 "$tmp/err")"
h5diff --exclude-path /provenance ref.h5 old.h5 >old.diff 2>&1 &&
  pass "resumed from an old checkpoint: equal to the uninterrupted run" ||
  fail "resumed from an old checkpoint: differs: $(head -5 old.diff)"
finish "mpi resume"
