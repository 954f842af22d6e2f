#!/usr/bin/env bash
# Task-size benchmark (not a test): runs a study on RANKS ranks x 1 thread with
# IOCA_TASK_TIMES set (every finished task's key, kind, seconds and result bytes, per rank)
# and prints, per kind of task (prepare, sweep), the count and the median, p90, max and
# total of its seconds and result bytes, then the same for every sweep group (scope x
# quantity or random) when --groups is given. docs/scaling.md uses it on subsets of the
# paper study and on the 5000-network benchmark's configuration.
# With --save FILE, the task lines (key, kind, seconds, bytes; tab-separated) are kept in
# FILE (tests/bench/scaling_model.py reads them).
# usage: tests/bench/task_sizes.sh [--ranks R] [--groups] [--save FILE] CONFIG [ioca run options ...]
#   e.g. tests/bench/task_sizes.sh jobs/studies/paper.ini --network.seeds 1
set -euo pipefail
cd "$(dirname "$0")/../.."
ranks=2 groups=0 save=
while (($#)); do
  case $1 in
    --ranks) ranks=$2; shift 2 ;;
    --groups) groups=1; shift ;;
    --save) save=$2; shift 2 ;;
    *) break ;;
  esac
done
(($#)) || { echo "usage: tests/bench/task_sizes.sh [--ranks R] [--groups] [--save FILE] CONFIG [options ...]" >&2; exit 2; }
config=$1
shift
ioca=$PWD/build/ioca
[ -x "$ioca" ] || { echo "task_sizes.sh: build ioca first ($ioca)" >&2; exit 1; }
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$ioca" --version  # the commit, and the CPU and kernels the figures below are from
echo "study: $config $* on $ranks ranks x 1 thread"
start=$EPOCHREALTIME
mpiexec -q --oversubscribe --bind-to none -n "$ranks" -x OMP_NUM_THREADS=1 -x IOCA_TASK_TIMES="$dir/times" \
  "$ioca" run --config "$config" "$@" --out "$dir/results.h5" --quiet
[ -z "$save" ] || cat "$dir"/times.* >"$save"
attr() { h5dump -a "/provenance/$1" "$dir/results.h5" | sed -n 's/.*(0): \(.*\)/\1/p'; }
echo "wall: $(awk "BEGIN {printf \"%.1f\", $EPOCHREALTIME - $start}") s; load $(attr load_seconds) s, write $(attr write_seconds) s (summed over ranks)"
cat "$dir"/times.* | /usr/bin/python3 -c '
import sys, statistics
groups = int(sys.argv[1])
rows = [l.rstrip("\n").split("\t") for l in sys.stdin if l.strip()]
def q(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * (len(v) - 1) + 0.5))]
def line(name, sel):
    s = [float(r[2]) for r in sel]; b = [int(r[3]) for r in sel]
    print(f"| {name} | {len(sel)} | {statistics.median(s):.3f} | {q(s, 0.9):.3f} | {max(s):.3f} | "
          f"{sum(s):.1f} | {statistics.median(b) / 1e3:.1f} | {q(b, 0.9) / 1e3:.1f} | {max(b) / 1e3:.1f} | {sum(b) / 1e6:.2f} |")
print("| tasks | count | median s | p90 s | max s | total s | median kB | p90 kB | max kB | total MB |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for kind in ("prepare", "sweep"):
    line(kind, [r for r in rows if r[1] == kind])
line("all", rows)
if groups:
    keys = sorted({"/".join(r[0].split("/")[3:]) for r in rows if r[1] == "sweep"})
    for k in keys:
        line("sweep " + k, [r for r in rows if r[1] == "sweep" and "/".join(r[0].split("/")[3:]) == k])
' "$groups"
