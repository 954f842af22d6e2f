#!/usr/bin/env bash
# Scaling benchmark (not a test): jobs/studies/scaling.ini (the standard ablation workload
# for 4 seeds) as 1 rank x 2 threads and as 2 ranks x 1 thread, alternating, ROUNDS rounds
# (default 2). Prints each run's wall time and how the time splits between loading data,
# training, measuring, ablating and writing (summed over ranks, from /provenance), then the
# median ratio. The results of the two layouts are also compared (they must be identical).
# usage: tests/bench/study_scaling.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-2}
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
attr() { h5dump -a "/provenance/$2" "$1" | sed -n 's/.*(0): \(.*\)/\1/p'; }
build/ioca --version  # the commit, and the CPU and kernels the figures below are from
declare -A times
for ((r = 1; r <= rounds; r++)); do
  for layout in "1 2" "2 1"; do
    read -r ranks threads <<<"$layout"
    f="$out/r${ranks}t${threads}-$r.h5"
    start=$(date +%s.%N)
    mpiexec -q -n "$ranks" --bind-to none -x OMP_NUM_THREADS="$threads" \
      build/ioca run --config jobs/studies/scaling.ini --out "$f" --quiet
    wall=$(awk "BEGIN {print $(date +%s.%N) - $start}")
    times[$layout]+="$wall "
    printf '%s ranks x %s threads, round %d: wall %6.1f s | load %5.1f train %6.1f measure %5.1f ablate %6.1f write %4.1f (s, summed over ranks)\n' \
      "$ranks" "$threads" "$r" "$wall" "$(attr "$f" load_seconds)" "$(attr "$f" train_seconds)" \
      "$(attr "$f" measure_seconds)" "$(attr "$f" ablate_seconds)" "$(attr "$f" write_seconds)"
  done
  h5diff --exclude-path /provenance "$out/r1t2-$r.h5" "$out/r2t1-$r.h5" >/dev/null &&
    echo "round $r: identical results outside /provenance" || echo "round $r: RESULTS DIFFER"
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
m12=$(echo "${times["1 2"]}" | median)
m21=$(echo "${times["2 1"]}" | median)
echo "median wall: 1x2 $m12 s, 2x1 $m21 s, ratio (2x1 / 1x2) $(awk "BEGIN {printf \"%.3f\", $m21 / $m12}")"
