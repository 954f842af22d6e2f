#!/usr/bin/env bash
# Memory stays bounded for large test sets: every command that forwards a data split does it
# in chunks within --memory-budget (run.memory_budget for studies), so an 8 times larger
# test set costs its own bytes and nothing more. Peak RSS (getrusage) of evaluate, measure
# (uniform and quantile binning), ablate and a one-rank study (measures and information
# plane on the test split) at 12,500 and 100,000 test samples: the growth must stay within
# the test set's growth plus a small margin, where keeping every activation would add
# 85 MiB. The budget never changes the results.
# Usage: memory.sh path/to/ioca
set -uo pipefail
ioca=$1
py=/usr/bin/python3
source "$(dirname "$0")/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=2

small=12500 large=100000 features=16
syn=(--dataset synthetic --synthetic-samples 2000 --synthetic-features "$features" --synthetic-noise 0.3)
# The test set's growth in MiB (float features and an int32 label per sample), plus a
# margin for the allocator, HDF5, the result arrays and what is kept per sample (the
# information plane's pattern hashes: 24 bytes per sample and layer, 4 MiB here).
data_growth_mib=$(((large - small) * (features * 4 + 4) / 1048576))
margin_mib=20
# Keeping every hidden activation of the larger set (128 + 128 floats per sample) would
# need this much more:
unbounded_mib=$(((large - small) * 256 * 4 / 1048576))

# peak_mib NAME CMD...: runs CMD and prints its peak RSS in MiB (-1 if it failed; its stderr
# is then in $tmp/err-NAME).
peak_mib() {
  local name=$1
  shift
  $py -c '
import resource, subprocess, sys
with open(sys.argv[1], "w") as err:
    r = subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=err)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024 if r.returncode == 0 else -1)
' "$tmp/err-$name" "$@"
}

expect_status 0 "train a 128,128 network" "$ioca" train "${syn[@]}" --synthetic-test-samples 1000 \
  --hidden 128,128 --epochs 1 --out "$tmp/m.h5" --quiet

cat >"$tmp/study.ini" <<INI
name = memory
[data]
datasets = synthetic
synthetic_samples = 2000
synthetic_features = $features
[network]
hidden = 128x128
seeds = 1
[train]
epochs = 1
[measure]
split = test
binning = quantile
[ablation]
quantities = entropy
directions = ascending
scopes = network
random = 0
single = false
INI
# (One sweep over every hidden neuron is enough for the bound: more orders, scopes or the
# single-neuron damage go through the same blocks of samples and only add time.)

declare -A rss
for n in $small $large; do
  t=(--synthetic-test-samples "$n")
  budget=(--memory-budget 4)
  rss[evaluate-$n]=$(peak_mib evaluate "$ioca" evaluate --model "$tmp/m.h5" "${t[@]}")
  rss[measure-$n]=$(peak_mib measure "$ioca" measure --model "$tmp/m.h5" "${t[@]}" --split test \
    "${budget[@]}" --out "$tmp/ms-$n.h5")
  rss[measure-quantile-$n]=$(peak_mib measure-quantile "$ioca" measure --model "$tmp/m.h5" "${t[@]}" \
    --split test --binning quantile "${budget[@]}" --out "$tmp/q-$n.h5")
  # The network scope (both layers' neurons), one order, and the single-neuron damage: a
  # layer0 scope or a random order would add work and no other memory.
  rss[ablate-$n]=$(peak_mib ablate "$ioca" ablate --model "$tmp/m.h5" --measures "$tmp/ms-$n.h5" \
    "${t[@]}" --scope network --by entropy --direction ascending --random 0 "${budget[@]}" \
    --out "$tmp/a-$n.h5" --quiet)
  rss[study-$n]=$(peak_mib study "$ioca" run --config "$tmp/study.ini" \
    --data.synthetic_test_samples "$n" --run.memory_budget 4 --out "$tmp/s-$n.h5" --quiet)
done

echo "peak RSS in MiB at $small and $large test samples (test set grows by $data_growth_mib MiB;" \
  "keeping every activation would add $unbounded_mib MiB):"
for cmd in evaluate measure measure-quantile ablate study; do
  a=${rss[$cmd-$small]} b=${rss[$cmd-$large]}
  printf '  %-17s %5s %5s\n' "$cmd" "$a" "$b"
  if [ "$a" -lt 0 ] || [ "$b" -lt 0 ]; then
    fail "$cmd did not run: $(cat "$tmp/err-$cmd")"
  elif [ $((b - a)) -le $((data_growth_mib + margin_mib)) ]; then
    pass "$cmd: memory grows by $((b - a)) MiB for 8x the test samples (bounded)"
  else
    fail "$cmd: memory grows by $((b - a)) MiB for 8x the test samples (more than $((data_growth_mib + margin_mib)))"
  fi
done

# An explicit --synthetic-test-samples wins over the model's own (else this test proves nothing).
h5dump -a /samples "$tmp/q-$large.h5" | grep -q "(0): $large" &&
  pass "measure used the $large test samples asked for" || fail "measure ignored --synthetic-test-samples"

# The budget changes how the work is cut, never the results. At the smaller size (4 MiB
# holds a few thousand of its samples' activations, so it is still cut into several parts).
expect_status 0 "measure, quantile, default budget" "$ioca" measure --model "$tmp/m.h5" \
  --synthetic-test-samples $small --split test --binning quantile --out "$tmp/q-default.h5"
h5diff "$tmp/q-default.h5" "$tmp/q-$small.h5" >"$tmp/diff" 2>&1 &&
  pass "quantile measures: 4 MiB budget equals the default" || fail "budget changed measures: $(head -3 "$tmp/diff")"
expect_status 0 "ablate, default budget" "$ioca" ablate --model "$tmp/m.h5" --measures "$tmp/ms-$small.h5" \
  --synthetic-test-samples $small --scope network --by entropy --direction ascending --random 0 \
  --out "$tmp/a-default.h5" --quiet
# (the root's attributes hold timings: compare the curves and the single-neuron damage)
h5diff "$tmp/a-default.h5" "$tmp/a-$small.h5" /ablation /ablation >"$tmp/diff" 2>&1 &&
  h5diff "$tmp/a-default.h5" "$tmp/a-$small.h5" /single_neuron /single_neuron >>"$tmp/diff" 2>&1 &&
  pass "ablation curves: 4 MiB budget equals the default" || fail "budget changed curves: $(head -3 "$tmp/diff")"
expect_status 0 "study, default budget" "$ioca" run --config "$tmp/study.ini" \
  --data.synthetic_test_samples $small --out "$tmp/s-default.h5" --quiet
h5diff --exclude-path /provenance "$tmp/s-default.h5" "$tmp/s-$small.h5" >"$tmp/diff" 2>&1 &&
  pass "study: run.memory_budget 4 equals the default" || fail "budget changed the study: $(head -3 "$tmp/diff")"

finish memory
