#!/usr/bin/env bash
# Study-size benchmark (not a test; never run by ctest): one small-network study at several
# network counts on 2 MPI ranks x 1 thread. Synthetic data (3,000 train incl. 1,000
# validation / 1,000 test, 32 features), hidden 16x16, relu and tanh with N/2 seeds each,
# 1 epoch, quantities entropy, mutual_information, kl_selectivity, both directions, every
# scope, 3 random orders, every step, single-neuron damage, a checkpoint every 20 s.
# For each N it prints the whole run's wall time, the time per phase (thread-seconds summed
# over ranks, from /provenance), the tail (last task to finished file), the file's size
# against the raw bytes of the results it holds, the checkpoint bytes and the peak RSS of
# each rank; then one markdown table. Also what `ioca run --dry-run` estimated for -n 2.
# usage: tests/bench/study_scale.sh [N ...]   (default: 500 2000 5000; the large ones take
#        many minutes each)
set -euo pipefail
cd "$(dirname "$0")/../.."
counts=("$@")
((${#counts[@]})) || counts=(500 2000 5000)
ioca=$PWD/build/ioca
[ -x "$ioca" ] || { echo "study_scale.sh: build ioca first ($ioca)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "study_scale.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$ioca" --version  # the commit, and the CPU and kernels the figures below are from

# Each rank under GNU time: its peak RSS (KiB) into rss.<rank>.
cat >"$dir/rss.sh" <<'SH'
#!/bin/sh
exec /usr/bin/time -f %M -o "$RSS_DIR/rss.${OMPI_COMM_WORLD_RANK:-0}" "$@"
SH
chmod +x "$dir/rss.sh"

study_config() {  # N FILE
  tests/bench/scale_config.sh "$1" >"$2"
}

# Every stderr line with the time it arrived (seconds since the epoch).
stamp() { while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done; }

# The numbers of a finished results file, as "key=value" lines.
file_numbers() {
  /usr/bin/python3 - "$1" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    p = f["provenance"].attrs
    for k in ("load", "train", "measure", "single", "ablate", "write"):
        print(f"{k}={float(p[k + '_seconds']):.1f}")
    print(f"checkpoint_bytes={int(p.get('checkpoint_bytes', 0))}")
    print(f"checkpoints={int(p.get('checkpoints', 0))}")
    print(f"tasks={int(f.attrs['tasks'])}")
    version = int(f.attrs.get("ioca_results_format", 1))
    raw = 0
    if version >= 2 and "result_bytes" in f.attrs:
        raw = int(f.attrs["result_bytes"])
    elif version >= 2:
        raw = sum(d.size * d.dtype.itemsize for d in f["data"].values() if isinstance(d, h5py.Dataset))
    else:
        def visit(name, obj):
            global raw
            if isinstance(obj, h5py.Dataset):
                raw += obj.size * obj.dtype.itemsize
        f["networks"].visititems(visit)
    print(f"format={version}")
    print(f"raw={raw}")
PY
}

rows=()
for n in "${counts[@]}"; do
  ((n >= 2 && n % 2 == 0)) || { echo "study_scale.sh: N must be even and >= 2, not $n" >&2; exit 2; }
  run=$dir/n$n
  mkdir -p "$run"
  study_config "$n" "$run/study.ini"
  # (an ioca without --dry-run, e.g. an older build compared against: no estimate)
  estimate=$("$ioca" run --config "$run/study.ini" --dry-run 2>/dev/null |
    sed -n 's/.*sbatch -n 2 .*# about \(.*\)/\1/p') || estimate="?"
  start=$EPOCHREALTIME
  # The final file is written as results.h5.tmp (checkpoints have other names): when it
  # appears, every task is done and the final synchronisation is over.
  (while [ ! -e "$run/results.h5.tmp" ] && [ ! -e "$run/results.h5" ] && [ ! -e "$run/ended" ]; do
    sleep 0.05
  done
  echo "$EPOCHREALTIME" >"$run/final_write_started") &
  watcher=$!
  status=0
  mpiexec -q -n 2 --bind-to none -x OMP_NUM_THREADS=1 -x RSS_DIR="$run" \
    "$dir/rss.sh" "$ioca" run --config "$run/study.ini" --out "$run/results.h5" \
    2>&1 >/dev/null | stamp >"$run/log" || status=$?
  end=$EPOCHREALTIME
  touch "$run/ended"
  wait "$watcher"
  if ((status)); then
    echo "study_scale.sh: ioca run of $n networks failed (status $status):" >&2
    tail -5 "$run/log" >&2
    exit 1
  fi
  wall=$(awk "BEGIN {printf \"%.1f\", $end - $start}")
  # Last task to finished file lies between two bounds: from the final file's appearance
  # (after the last task and the final synchronisation) to the end, and from the last
  # progress line that still showed tasks to do (the runner prints at most every 2 s, and
  # after each synchronisation) to the end.
  final_write=$(awk "BEGIN {printf \"%.1f\", $end - $(cat "$run/final_write_started")}")
  last=$(awk '/ioca run: [0-9]+\/[0-9]+ tasks/ {split($4, a, "/"); if (a[1] + 0 < a[2] + 0) t = $1} END {print t}' "$run/log")
  tail_s="$final_write-$(awk "BEGIN {printf \"%.1f\", $end - ${last:-$start}}")"
  declare -A v=()
  while IFS='=' read -r key value; do v[$key]=$value; done < <(file_numbers "$run/results.h5")
  size=$(stat -c %s "$run/results.h5")
  rss0=$(awk '{printf "%.0f", $1 / 1024}' "$run/rss.0") rss1=$(awk '{printf "%.0f", $1 / 1024}' "$run/rss.1")
  mb() { awk "BEGIN {printf \"%.1f\", $1 / 1e6}"; }
  ratio=$(awk "BEGIN {printf \"%.1f\", ($size / (${v[raw]} + 1e-9))}")
  echo "N=$n: ${v[tasks]} tasks, wall $wall s (dry run estimated ${estimate:-?}); rank-seconds load ${v[load]}" \
    "train ${v[train]} measure ${v[measure]} single ${v[single]} ablate ${v[ablate]} write ${v[write]};" \
    "last task to finished file $tail_s s (final write to last progress line); file $(mb "$size") MB holding $(mb "${v[raw]}") MB of results" \
    "(format ${v[format]}, ratio $ratio); ${v[checkpoints]} checkpoints, $(mb "${v[checkpoint_bytes]}") MB;" \
    "peak RSS rank 0 $rss0 MiB, rank 1 $rss1 MiB"
  rows+=("| $n | ${v[tasks]} | $wall | ${estimate:-?} | ${v[load]} | ${v[train]} | ${v[measure]} | ${v[single]} | ${v[ablate]} | ${v[write]} | $tail_s | $(mb "$size") | $(mb "${v[raw]}") | $ratio | $(mb "${v[checkpoint_bytes]}") | $rss0 / $rss1 |")
  rm -rf "$run"
done

echo
echo "| networks | tasks | wall s | dry-run estimate | load | train | measure | single | ablate | write | last task to file s (bounds) | file MB | results MB | file / results | checkpoint MB | peak RSS MiB (rank 0 / 1) |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
echo "(phases: thread-seconds summed over the 2 ranks, from /provenance; results MB: raw bytes of every array)"
