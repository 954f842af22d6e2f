#!/usr/bin/env bash
# Training throughput of ioca against PyTorch on the same problem: MNIST, 784-200-200-10
# ReLU, Adam lr 1e-3, batch 32, 50,000 training samples per epoch, 2 threads each.
#
# Runs `ioca train` and tests/bench/torch_train_throughput.py alternately for $ROUNDS
# rounds (default 3) of $EPOCHS epochs (default 2), reads the per-epoch "samples/s" both
# print on stderr, and reports the median over all epochs and the ratio ioca/pytorch.
# PyTorch runs with OPENBLAS_CORETYPE=SkylakeX (this CPU's right OpenBLAS kernel) and
# OPENBLAS_NUM_THREADS=1 (OpenBLAS's own thread pool otherwise fights torch's OpenMP
# threads for the 2 cores); see torch_train_throughput.py.
# Needs torch (benchmark only): apt-get install python3-torch.  Run it on an idle machine.
#
# Environment: IOCA_BIN (default build/ioca), IOCA_DATA (default data/), PYTHON
# (default /usr/bin/python3), ROUNDS, EPOCHS.
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
ioca="${IOCA_BIN:-$repo/build/ioca}"
python="${PYTHON:-/usr/bin/python3}"
data_dir="${IOCA_DATA:-$repo/data}/mnist"
rounds="${ROUNDS:-3}"
epochs="${EPOCHS:-2}"
torch_script="$repo/tests/bench/torch_train_throughput.py"

if ! "$python" -c "import torch" >/dev/null 2>&1; then
  echo "install python3-torch (benchmark only): apt-get install python3-torch" >&2
  exit 1
fi
if [ ! -x "$ioca" ]; then
  echo "ioca binary not found at $ioca: build it with ninja -C $repo/build ioca" >&2
  exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# The "<number> samples/s" of each epoch line of a log, one per line.
epoch_rates() { awk '/^epoch/ && $NF == "samples/s" { print $(NF - 1) }' "$1"; }

# Median of the numbers on stdin.
median() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "nan"; exit }
    if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

run_ioca() {
  OMP_NUM_THREADS=2 "$ioca" train --dataset mnist --data-dir "$data_dir" --epochs "$epochs" \
    --out "$tmp/model.h5" 2>"$tmp/ioca.log" >/dev/null || { cat "$tmp/ioca.log" >&2; exit 1; }
  epoch_rates "$tmp/ioca.log"
}

run_torch() {
  OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=2 "$python" "$torch_script" --data-dir "$data_dir" \
    --epochs "$epochs" 2>"$tmp/torch.log" >"$tmp/torch.json" || { cat "$tmp/torch.log" >&2; exit 1; }
  epoch_rates "$tmp/torch.log"
}

echo "host $(hostname), $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ioca: $("$ioca" --version 2>&1 | head -n 1)"
: >"$tmp/ioca.all"
: >"$tmp/torch.all"
for ((round = 1; round <= rounds; ++round)); do
  ioca_rates="$(run_ioca)"
  torch_rates="$(run_torch)"
  [ -n "$ioca_rates" ] || { echo "no samples/s lines in ioca's output" >&2; exit 1; }
  [ -n "$torch_rates" ] || { echo "no samples/s lines in the PyTorch output" >&2; exit 1; }
  echo "$ioca_rates" >>"$tmp/ioca.all"
  echo "$torch_rates" >>"$tmp/torch.all"
  echo "round $round: ioca ${ioca_rates//$'\n'/ } samples/s | pytorch ${torch_rates//$'\n'/ } samples/s" \
       "(load $(cut -d' ' -f1 /proc/loadavg))"
done
grep -m 1 '^torch ' "$tmp/torch.log" || true

ioca_median="$(median <"$tmp/ioca.all")"
torch_median="$(median <"$tmp/torch.all")"
ratio="$(awk -v a="$ioca_median" -v b="$torch_median" 'BEGIN { printf "%.2f", a / b }')"
torch_version="$("$python" -c 'import json, sys; print(json.loads(sys.stdin.read().splitlines()[-1])["torch_version"])' <"$tmp/torch.json")"
echo "ioca     median $ioca_median samples/s over $((rounds * epochs)) epochs"
echo "pytorch  median $torch_median samples/s over $((rounds * epochs)) epochs (torch $torch_version)"
echo "ratio ioca/pytorch $ratio"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '{"ioca_samples_per_second": %s, "pytorch_samples_per_second": %s, "ratio": %s, "threads": 2, "rounds": %d, "epochs": %d, "torch_version": "%s"}\n' \
  "$ioca_median" "$torch_median" "$ratio" "$rounds" "$epochs" "$torch_version"
