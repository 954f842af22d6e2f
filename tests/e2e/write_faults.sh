#!/usr/bin/env bash
# Writes that fail end the job at once, with one line naming the file and the cause, and
# lose nothing that was complete: `ioca run` on 2 ranks on a small tmpfs that fills during
# a checkpoint and during the final write, that turns read-only between two checkpoints,
# and with an I/O error injected on one rank only in the middle of the collective final
# write (where Open MPI's two-phase I/O cannot tell the other rank); then train, measure,
# ablate and merge on a full tmpfs. Each run must end within 30 s on every rank, leave the
# last checkpoint chain intact and no output that looks valid, and a resume once the cause
# is gone must equal an uninterrupted run. The faults come from tests/faults/write_fault.c
# (an LD_PRELOAD shim): it fills the file system, or fails a write, at a chosen file and
# byte, so each fault lands where it should every time.
# usage: write_faults.sh IOCA MPIEXEC SHIM   (root: it mounts tmpfs; exit 77 = skipped)
set -uo pipefail
ioca=$1 mpiexec=$2 shim=$3
source "$(dirname "$0")/../mpi/lib.sh"
if [ "$(id -u)" -ne 0 ]; then
  echo "write_faults: skipped (needs root to mount tmpfs)"
  exit 77
fi
mounts=()
cleanup() {
  local m
  for m in "${mounts[@]}"; do umount -l "$m" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp"

# mount_fs NAME MIB: a fresh tmpfs of MIB MiB at $tmp/NAME.
mount_fs() {
  mkdir -p "$tmp/$1"
  mount -t tmpfs -o size="$2"m tmpfs "$tmp/$1" || { echo "cannot mount tmpfs"; exit 77; }
  mounts+=("$tmp/$1")
}

# A tiny study that checkpoints at every synchronisation: a base after the prepare tasks,
# then segments.
cat >study.ini <<'INI'
name = faults
[data]
datasets = synthetic
synthetic_samples = 1500
synthetic_test_samples = 500
synthetic_features = 16
validation_size = 500
[network]
hidden = 12x8
activations = relu, tanh
seeds = 1
[train]
epochs = 1
[ablation]
quantities = entropy, outgoing_l2
random = 2
[run]
checkpoint_interval = 0
INI
run_ranks 2 1 run --config study.ini --out ref.h5 --quiet || fail "reference run"

# faulty NAME ARGS...: `ioca run` on 2 ranks with the shim; sets $status, $seconds and
# $errors (ioca's error lines) from NAME.err.
faulty() {
  local name=$1
  shift
  rm -f "$tmp/stamp"
  local start=$SECONDS
  timeout -k 5 90 "$mpiexec" -q -n 2 --oversubscribe --bind-to none -x OMP_NUM_THREADS=1 \
    -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM -x LD_PRELOAD="$shim" \
    -x IOCA_FAULT_PATH -x IOCA_FAULT_ACTION -x IOCA_FAULT_AFTER -x IOCA_FAULT_RANK \
    -x IOCA_FAULT_FILL -x IOCA_FAULT_PAUSED -x IOCA_FAULT_CONTINUE -x IOCA_FAULT_STAMP -x IOCA_WRITE_STALL \
    "$ioca" run --config study.ini --quiet "$@" >/dev/null 2>"$name.err" &
  local job=$!
  [ -n "${on_pause:-}" ] && $on_pause
  wait $job
  status=$?
  seconds=$((SECONDS - start))
  # From the fault (the shim's stamp; the remount for the read-only case) to the exit.
  local fault
  fault=$(stat -c %.3Y "$tmp/stamp" 2>/dev/null || echo 0)
  after=$(awk -v now="$(date +%s.%N)" -v f="$fault" 'BEGIN { d = f > 0 ? now - f : -1; printf "%.1f", d }')
  errors=$(grep -c '^ioca run: error:' "$name.err")
}

# check_failed NAME FILE CAUSE: the run ended promptly with one error naming FILE and CAUSE.
check_failed() {
  echo "     $1: exit $status, ${after} s after the fault (run: ${seconds} s): $(grep '^ioca run: error:' "$1.err")"
  if [ "$status" -eq 2 ] && awk -v a="$after" 'BEGIN { exit !(a >= 0 && a <= 30) }'; then
    pass "$1: every rank ended within 30 s of the fault, exit status 2"
  else
    fail "$1: status $status, $after s after the fault: $(tail -5 "$1.err")"
  fi
  if [ "$errors" -eq 1 ] && grep '^ioca run: error:' "$1.err" | grep -q "$2.*$3"; then
    pass "$1: one error line naming $2 and '$3'"
  else
    fail "$1: wanted one error naming $2 and '$3': $(cat "$1.err")"
  fi
}

# check_resume NAME DIR: the chain left is intact and a resume ends equal to ref.h5.
check_resume() {
  local out=$2/r.h5
  [ ! -e "$out" ] && ! ls "$2" | grep -q '\.tmp' &&
    pass "$1: no results file and no temporary file left" ||
    fail "$1: left behind: $(ls "$2")"
  run_ranks 2 1 run --config study.ini --out "$out" --resume >/dev/null 2>"$1.resume.err"
  local s=$? before
  before=$(sed -n 's/.*(\([0-9]*\) done before).*/\1/p' "$1.resume.err")
  [ "$s" -eq 0 ] && [ "${before:-0}" -gt 0 ] &&
    pass "$1: resumed from the intact checkpoint ($before tasks done before)" ||
    fail "$1: resume exit $s, done before '${before}': $(tail -3 "$1.resume.err")"
  h5diff --exclude-path /provenance ref.h5 "$out" >"$1.diff" 2>&1 &&
    pass "$1: resumed results equal the uninterrupted run's" ||
    fail "$1: resumed results differ: $(head -5 "$1.diff")"
}

export IOCA_FAULT_PATH IOCA_FAULT_ACTION IOCA_FAULT_AFTER=0 IOCA_FAULT_RANK= IOCA_FAULT_FILL= \
  IOCA_FAULT_PAUSED= IOCA_FAULT_CONTINUE= IOCA_FAULT_STAMP=$tmp/stamp IOCA_WRITE_STALL=

# 1. The disk fills during a checkpoint segment: the base stays, and is resumed.
mount_fs fill1 4
IOCA_FAULT_PATH=r.h5.checkpoint.1.tmp IOCA_FAULT_ACTION=fill IOCA_FAULT_AFTER=2048
IOCA_FAULT_FILL=$tmp/fill1/filler
faulty fill-checkpoint --out fill1/r.h5
check_failed fill-checkpoint r.h5.checkpoint.1 "no space left on device"
[ -e fill1/r.h5.checkpoint ] && pass "fill-checkpoint: the base checkpoint is kept" ||
  fail "fill-checkpoint: the base checkpoint is gone"
rm -f fill1/filler
check_resume fill-checkpoint fill1

# 1b. The disk fills up between two checkpoint files (all but 512 KiB, taken while the
# shim holds rank 0 before it creates segment 1, which still fits): the room check before
# segment 2 ends the run cleanly (no abort), base and segment 1 kept.
mount_fs room 4
IOCA_FAULT_PATH=r.h5.checkpoint.1.tmp IOCA_FAULT_ACTION=pause IOCA_FAULT_RANK=0
IOCA_FAULT_PAUSED=$tmp/paused IOCA_FAULT_CONTINUE=$tmp/continue
fill_most() {
  local i
  for ((i = 0; i < 600; i++)); do [ -e "$tmp/paused" ] && break; sleep 0.05; done
  dd if=/dev/zero of="$tmp/room/filler" bs=64k 2>/dev/null
  truncate -s -512K "$tmp/room/filler"
  touch "$tmp/stamp" "$tmp/continue"
}
on_pause=fill_most faulty room --out room/r.h5
check_failed room r.h5.checkpoint.2 "no space left on device (about"
[ -e room/r.h5.checkpoint ] && [ -e room/r.h5.checkpoint.1 ] &&
  pass "room: the base and segment 1 are kept" || fail "room: left $(ls room)"
rm -f room/filler "$tmp/paused" "$tmp/continue"
check_resume room room
IOCA_FAULT_RANK= IOCA_FAULT_PAUSED= IOCA_FAULT_CONTINUE= IOCA_FAULT_ACTION=fill

# 2. The disk fills during the final write (collective, compressed): every checkpoint stays.
mount_fs fill2 4
IOCA_FAULT_PATH=r.h5.tmp IOCA_FAULT_FILL=$tmp/fill2/filler
faulty fill-final --out fill2/r.h5
check_failed fill-final "fill2/r.h5:" "no space left on device"
rm -f fill2/filler
check_resume fill-final fill2

# 3. The file system turns read-only between two checkpoint files: the next one cannot be
# created. (A tmpfs can be remounted read-only only while no file on it is open for
# writing: the shim holds rank 0 just before it creates the next file.)
mount_fs ro 4
IOCA_FAULT_PATH=r.h5.checkpoint.1.tmp IOCA_FAULT_ACTION=pause IOCA_FAULT_RANK=0
IOCA_FAULT_PAUSED=$tmp/paused IOCA_FAULT_CONTINUE=$tmp/continue
rm -f "$tmp/paused" "$tmp/continue"
remount_ro() {
  local i
  for ((i = 0; i < 600; i++)); do [ -e "$tmp/paused" ] && break; sleep 0.05; done
  mount -o remount,ro "$tmp/ro" || echo "remount failed"
  touch "$tmp/stamp" "$tmp/continue"
}
on_pause=remount_ro faulty read-only --out ro/r.h5
check_failed read-only r.h5.checkpoint.1 "read-only file system"
mount -o remount,rw "$tmp/ro"
check_resume read-only ro
IOCA_FAULT_RANK= IOCA_FAULT_PAUSED= IOCA_FAULT_CONTINUE=

# 4. An I/O error on rank 1 alone, 4 KiB into its share of the collective final write: the
# other rank waits in the collective for it, so rank 1 must end the job.
mkdir eio
IOCA_FAULT_PATH=r.h5.tmp IOCA_FAULT_ACTION=eio IOCA_FAULT_AFTER=4096 IOCA_FAULT_RANK=1
faulty eio-one-rank --out eio/r.h5
check_failed eio-one-rank "eio/r.h5:" "input/output error"
IOCA_FAULT_ACTION=
check_resume eio-one-rank eio
IOCA_FAULT_RANK=

# 4b. A write that never returns on rank 1 (the shim fills the disk, then holds the write
# forever; rank 0 waits in the collective): only the write watchdog can end this, once the
# file has stood still (IOCA_WRITE_STALL=2 s here, 10 s by default) on a full file system.
mount_fs hang 4
IOCA_FAULT_PATH=r.h5.tmp IOCA_FAULT_ACTION=hang IOCA_FAULT_AFTER=4096 IOCA_FAULT_RANK=1
IOCA_FAULT_FILL=$tmp/hang/filler
IOCA_WRITE_STALL=2 faulty hang --out hang/r.h5
check_failed hang "hang/r.h5:" "the write stopped making progress: no space left on device"
rm -f hang/filler
IOCA_FAULT_ACTION=
check_resume hang hang
IOCA_FAULT_RANK=

# 5. A write cut short (as a nearly full disk may do) in a checkpoint segment: never lost
# silently. Open MPI reports it as a failed write (no errno: the line says so).
mkdir short
IOCA_FAULT_PATH=r.h5.checkpoint.1.tmp IOCA_FAULT_ACTION=short IOCA_FAULT_AFTER=0
faulty short --out short/r.h5
if [ "$status" -eq 0 ]; then
  h5diff --exclude-path /provenance ref.h5 short/r.h5 >short.diff 2>&1 &&
    pass "short write: completed, results equal the uninterrupted run's" ||
    fail "short write: the run succeeded with different results: $(head -5 short.diff)"
else
  check_failed short r.h5.checkpoint.1 "the write failed"
  IOCA_FAULT_ACTION=
  check_resume short short
fi
IOCA_FAULT_PATH= IOCA_FAULT_ACTION=

# 6. The single-process commands on a disk that fills 1000 bytes into their output: one
# line naming the output and the cause, no output and no temporary file left.
"$ioca" train --dataset synthetic --synthetic-samples 1500 --synthetic-test-samples 500 \
  --synthetic-features 16 --validation-size 500 --hidden 12 --epochs 1 --seed 1 \
  --out model.h5 --quiet >/dev/null || fail "training the model for the single-process commands"
"$ioca" measure --model model.h5 --out measures.h5 >/dev/null 2>&1 || fail "measuring the model"
mount_fs serial 4
for cmd in train measure ablate merge; do
  out=serial/$cmd.h5
  case $cmd in
    train) args=(train --dataset synthetic --synthetic-samples 1500 --synthetic-test-samples 500
                 --synthetic-features 16 --validation-size 500 --hidden 12 --epochs 1 --seed 1
                 --quiet --out "$out") ;;
    measure) args=(measure --model model.h5 --out "$out") ;;
    ablate) args=(ablate --model model.h5 --measures measures.h5 --random 2 --quiet --out "$out") ;;
    merge) args=(merge "$out" ref.h5 --quiet) ;;
  esac
  start=$SECONDS
  IOCA_FAULT_PATH=$out.tmp IOCA_FAULT_ACTION=fill IOCA_FAULT_AFTER=1000 IOCA_FAULT_FILL=$tmp/serial/filler \
    LD_PRELOAD=$shim timeout -k 5 60 "$ioca" "${args[@]}" >/dev/null 2>"$cmd.err"
  status=$?
  lines=$(grep -v '^mca_fbtl' "$cmd.err" | grep -vc '^write_fault:')
  echo "     $cmd: exit $status after $((SECONDS - start)) s: $(grep -v '^write_fault:' "$cmd.err")"
  if [ "$status" -eq 2 ] && [ "$lines" -eq 1 ] && grep -v '^write_fault:' "$cmd.err" |
    grep -q "$out.*no space left on device" && [ $((SECONDS - start)) -le 30 ]; then
    pass "$cmd: full disk: exit 2, one line naming $out and the cause"
  else
    fail "$cmd: full disk: exit $status: $(cat "$cmd.err")"
  fi
  [ -z "$(ls serial | grep -v '^filler$')" ] && pass "$cmd: no output and no temporary file left" ||
    fail "$cmd: left behind: $(ls serial)"
  rm -f serial/filler
done

finish write_faults
