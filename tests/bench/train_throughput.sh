#!/usr/bin/env bash
# Training throughput of ioca against PyTorch on the paper's recipe (jobs/studies/paper.ini):
# MNIST, 784-200-200-10 with ReLU (or --activation tanh), Adam lr 1e-3, batch 32, 50,000
# training samples per epoch (validation_size 10000), 2 threads each.
#
#   tests/bench/train_throughput.sh [--rounds N] [--epochs N] [--activation relu|tanh]
#       [--omp-wait-policy passive|active|default] [--openblas-coretype NAME]
#
# Runs `ioca train` and tests/bench/torch_train_throughput.py alternately for N rounds
# (default 3) of N epochs (default 2), and reports the median seconds per epoch of each
# over all epochs and the ratio pytorch/ioca. It first prints `ioca --version` (the commit, the CPU and
# ioca's kernels) and the BLAS torch runs on, and refuses to report anything
# (exit 3) unless torch's GEMMs run on OpenBLAS (Debian's python3-torch otherwise runs on
# the reference BLAS, about 6 GFLOP/s). OpenBLAS chooses its own kernel for the CPU:
# OPENBLAS_CORETYPE is removed from torch's environment unless --openblas-coretype is given.
#
# Threads: ioca runs with OMP_NUM_THREADS=2; PyTorch with torch.set_num_threads(2) and
# OPENBLAS_NUM_THREADS=1 (OpenBLAS's own pool otherwise fights torch's OpenMP threads for
# the 2 cores; see torch_train_throughput.py). Both processes get the same OMP_WAIT_POLICY,
# passive by default: on a machine shared with other work, spinning OpenMP threads made
# both programs 5-20x slower and erratic (--omp-wait-policy default leaves it unset).
# Needs python3-torch, python3-threadpoolctl and libopenblas0-pthread (setup.sh installs
# them). Run it on a machine as idle as possible; the load is printed before and after.
#
# Environment: IOCA_BIN (default build/ioca), IOCA_DATA (default data/), PYTHON
# (default /usr/bin/python3), ROUNDS, EPOCHS (defaults of --rounds, --epochs).
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
ioca="${IOCA_BIN:-$repo/build/ioca}"
python="${PYTHON:-/usr/bin/python3}"
data_dir="${IOCA_DATA:-$repo/data}/mnist"
rounds="${ROUNDS:-3}"
epochs="${EPOCHS:-2}"
activation=relu
wait_policy=passive
coretype=""
torch_script="$repo/tests/bench/torch_train_throughput.py"
samples=50000  # 60,000 MNIST training images less the 10,000 of the validation split

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit "${1:-2}"; }
while (($#)); do
  case "$1" in
    --rounds) rounds="${2:?--rounds needs a number}"; shift 2 ;;
    --epochs) epochs="${2:?--epochs needs a number}"; shift 2 ;;
    --activation) activation="${2:?--activation needs relu or tanh}"; shift 2 ;;
    --omp-wait-policy) wait_policy="${2:?--omp-wait-policy needs passive, active or default}"; shift 2 ;;
    --openblas-coretype) coretype="${2:?--openblas-coretype needs a name (e.g. Haswell)}"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "train_throughput.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "--rounds: '$rounds' is not a whole number >= 1" >&2; exit 2; }
[[ "$epochs" =~ ^[1-9][0-9]*$ ]] || { echo "--epochs: '$epochs' is not a whole number >= 1" >&2; exit 2; }
case "$activation" in relu|tanh) ;; *) echo "--activation: '$activation' is not relu or tanh" >&2; exit 2 ;; esac
case "$wait_policy" in passive|active|default) ;; *) echo "--omp-wait-policy: '$wait_policy' is not passive, active or default" >&2; exit 2 ;; esac

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

# The same OpenMP wait policy for both programs.
omp_env=(OMP_NUM_THREADS=2)
[ "$wait_policy" = default ] || omp_env+=(OMP_WAIT_POLICY="$wait_policy")
# torch: OpenBLAS picks its kernel unless the user names one.
torch_env=(env -u OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS=1 "${omp_env[@]}")
[ -z "$coretype" ] || torch_env=(env OPENBLAS_CORETYPE="$coretype" OPENBLAS_NUM_THREADS=1 "${omp_env[@]}")

# The "<seconds>" of each epoch line of a log (from its samples/s, which has more digits).
epoch_seconds() {
  awk -v n="$samples" '/^epoch/ && $NF == "samples/s" { printf "%.4f\n", n / $(NF - 1) }' "$1"
}

# Median of the numbers on stdin.
median() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "nan"; exit }
    if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

run_ioca() {
  env "${omp_env[@]}" "$ioca" train --dataset mnist --data-dir "$data_dir" --validation-size 10000 \
    --hidden 200x200 --activation "$activation" --optimizer adam --lr 0.001 --batch-size 32 \
    --seed 1 --epochs "$epochs" --out "$tmp/model.h5" 2>"$tmp/ioca.log" >/dev/null ||
    { cat "$tmp/ioca.log" >&2; exit 1; }
  epoch_seconds "$tmp/ioca.log"
}

run_torch() {
  "${torch_env[@]}" "$python" "$torch_script" --data-dir "$data_dir" --train-samples "$samples" \
    --activation "$activation" --batch-size 32 --lr 0.001 --threads 2 --epochs "$epochs" \
    2>"$tmp/torch.log" >"$tmp/torch.json" || { cat "$tmp/torch.log" >&2; exit 1; }
  epoch_seconds "$tmp/torch.log"
}

"$ioca" --version  # the commit, and the CPU and kernels the figures below are from
echo "host $(hostname); uptime before: $(uptime)"
# Refuses (exit 3) unless torch's sgemm_ is OpenBLAS's; prints what it is.
if ! blas="$("${torch_env[@]}" "$python" "$torch_script" --check-blas 2>"$tmp/blas.err")"; then
  cat "$tmp/blas.err" >&2
  echo "train_throughput.sh: PyTorch does not run on OpenBLAS here; no ratio reported" >&2
  exit 3
fi
"$python" - "$blas" "$coretype" <<'EOF'
import json, sys
b = json.loads(sys.argv[1])
how = f"forced by --openblas-coretype {sys.argv[2]}" if sys.argv[2] else "chosen by OpenBLAS"
print(f"pytorch blas: {b['internal_api']} {b['version']}, core {b['architecture']} ({how}), "
      f"threading {b['threading_layer']}; sgemm_ from {b['sgemm_library']}")
EOF
echo "recipe: 784-200-200-10 $activation, Adam lr 1e-3, batch 32, $samples samples/epoch;" \
     "2 threads each, OMP_WAIT_POLICY=${wait_policy/default/unset}"

: >"$tmp/ioca.all"
: >"$tmp/torch.all"
for ((round = 1; round <= rounds; ++round)); do
  ioca_s="$(run_ioca)"
  torch_s="$(run_torch)"
  [ -n "$ioca_s" ] || { echo "no samples/s lines in ioca's output" >&2; exit 1; }
  [ -n "$torch_s" ] || { echo "no samples/s lines in the PyTorch output" >&2; exit 1; }
  echo "$ioca_s" >>"$tmp/ioca.all"
  echo "$torch_s" >>"$tmp/torch.all"
  echo "round $round: ioca ${ioca_s//$'\n'/ } s/epoch | pytorch ${torch_s//$'\n'/ } s/epoch" \
       "(load $(cut -d' ' -f1 /proc/loadavg))"
done
grep -m 1 '^torch ' "$tmp/torch.log" || true

ioca_median="$(median <"$tmp/ioca.all")"
torch_median="$(median <"$tmp/torch.all")"
ratio="$(awk -v a="$ioca_median" -v b="$torch_median" 'BEGIN { printf "%.2f", b / a }')"
torch_version="$("$python" -c 'import json, sys; print(json.loads(sys.stdin.read().splitlines()[-1])["torch_version"])' <"$tmp/torch.json")"
rate() { awk -v s="$1" -v n="$samples" 'BEGIN { printf "%.0f", n / s }'; }
echo "ioca     median $ioca_median s/epoch ($(rate "$ioca_median") samples/s) over $((rounds * epochs)) epochs"
echo "pytorch  median $torch_median s/epoch ($(rate "$torch_median") samples/s) over $((rounds * epochs)) epochs (torch $torch_version)"
echo "ratio pytorch/ioca (epoch time) $ratio"
echo "uptime after: $(uptime)"
printf '{"ioca_seconds_per_epoch": %s, "pytorch_seconds_per_epoch": %s, "ratio": %s, "threads": 2, "rounds": %d, "epochs": %d, "activation": "%s", "omp_wait_policy": "%s", "torch_version": "%s", "blas": %s}\n' \
  "$ioca_median" "$torch_median" "$ratio" "$rounds" "$epochs" "$activation" "$wait_policy" "$torch_version" "$blas"
