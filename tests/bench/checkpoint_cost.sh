#!/usr/bin/env bash
# Checkpoint cost benchmark (not a test): a study checkpointing every INTERVAL seconds, run
# ROUNDS times on RANKS (environment, default 2) ranks x 1 thread; prints each run's wall time, time spent writing
# (summed over ranks), checkpoints written and their bytes against the final file's size.
# With BASELINE (another ioca binary, e.g. an older build), runs it alternately with this
# build, for a ratio measured in the same conditions.
# usage: tests/bench/checkpoint_cost.sh [CONFIG] [INTERVAL] [ROUNDS] [BASELINE]
#   defaults: jobs/studies/scaling.ini, 2 s, 2 rounds, no baseline
set -euo pipefail
cd "$(dirname "$0")/../.."
config=${1:-jobs/studies/scaling.ini} interval=${2:-2} rounds=${3:-2} baseline=${4:-} ranks=${RANKS:-2}
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
attr() { h5dump -a "/provenance/$2" "$1" 2>/dev/null | sed -n 's/.*(0): \(.*\)/\1/p' || true; }
binaries=("$PWD/build/ioca")
build/ioca --version  # the commit, and the CPU and kernels the figures below are from
[ -z "$baseline" ] || binaries+=("$(realpath "$baseline")")
for ((r = 1; r <= rounds; r++)); do
  for bin in "${binaries[@]}"; do
    f="$out/r$r.h5"
    rm -f "$f"*
    start=$(date +%s.%N)
    mpiexec -q --oversubscribe -n "$ranks" --bind-to none -x OMP_NUM_THREADS=1 "$bin" run --config "$config" \
      --run.checkpoint_interval "$interval" --out "$f" --quiet
    wall=$(awk "BEGIN {print $(date +%s.%N) - $start}")
    bytes=$(attr "$f" checkpoint_bytes)
    size=$(stat -c %s "$f")
    printf '%s round %d: wall %6.1f s, write %5.1f s (summed over ranks), %s checkpoints, %s\n' \
      "$bin" "$r" "$wall" "$(attr "$f" write_seconds)" "$(attr "$f" checkpoints)" \
      "$([ -n "$bytes" ] && awk "BEGIN {printf \"%.1f MB written in checkpoints = %.2f x the final file (%.1f MB)\", $bytes / 1e6, $bytes / $size, $size / 1e6}" || echo "checkpoint bytes not recorded by this build")"
  done
done
