#!/usr/bin/env bash
# Coordination-cost benchmark (not a test): build/tests/ioca_bench_scaling at 1, 2, 4, 8 and
# 16 MPI ranks (oversubscribed, 1 thread each): the cost of one task claim on rank 0's
# counter, of one synchronisation's exchange at 1 to 1000 new records per rank, and of
# writing one checkpoint segment and compacting it, for a fixed total payload; then claims
# while every rank computes 5 ms between them, with Open MPI's one-sided components sm
# (shared-memory atomics), pt2pt and ucx (atomics served in software by rank 0's MPI
# library), at 2 and 4 ranks. Prints the CPU, then the benchmark's lines (docs/scaling.md
# tabulates them).
# usage: tests/bench/scaling.sh [RANKS ...]   (default: 1 2 4 8 16)
#   env: CLAIMS (per rank, default 20000), REPS (default 5), SYNC_REPS (default 21),
#        PAYLOADS (default "paper:4 scale:500"), DIR (where files are written, default out/)
set -euo pipefail
cd "$(dirname "$0")/../.."
counts=("$@")
((${#counts[@]})) || counts=(1 2 4 8 16)
bench=$PWD/build/tests/ioca_bench_scaling
[ -x "$bench" ] || { echo "scaling.sh: build first ($bench)" >&2; exit 1; }
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
claims=${CLAIMS:-20000} reps=${REPS:-5} sync_reps=${SYNC_REPS:-21}
payloads=${PAYLOADS:-"paper:4 scale:500"}
dir=${DIR:-$PWD/out}
mkdir -p "$dir"
build/ioca --version  # the commit, and the CPU and kernels the figures below are from
mpiexec --version | head -1
run() { mpiexec -q --oversubscribe --bind-to none -n "$1" -x OMP_NUM_THREADS=1 "$bench" "${@:2}"; }
for n in "${counts[@]}"; do run "$n" claim "$claims" "$reps"; done
for n in "${counts[@]}"; do run "$n" sync "$sync_reps" 1 10 100 1000; done
for p in $payloads; do
  for n in "${counts[@]}"; do run "$n" write "$dir" "${p%%:*}" "${p##*:}" "$reps"; done
done
for osc in sm pt2pt ucx; do
  for n in 2 4; do
    echo -n "osc=$osc "
    mpiexec -q --oversubscribe --bind-to none --mca osc "$osc" -n "$n" -x OMP_NUM_THREADS=1 "$bench" claim 100 3 5000
  done
done
