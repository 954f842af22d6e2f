#!/usr/bin/env bash
# End-to-end tests of `ioca train` and `ioca evaluate` on synthetic data.
# Usage: cli.sh path/to/ioca
set -uo pipefail
ioca=$1
source "$(dirname "$0")/lib.sh"

syn=(--dataset synthetic --synthetic-samples 3000 --synthetic-test-samples 1000 --synthetic-features 32 --synthetic-noise 0.2)

expect_status 0 "train synthetic" "$ioca" train "${syn[@]}" --hidden 64,32 --epochs 3 --out "$tmp/m.h5" --quiet
grep -q "test accuracy" "$tmp/out" && pass "train prints the test accuracy" || fail "train output: $(cat "$tmp/out")"

expect_status 0 "evaluate --json" "$ioca" evaluate --model "$tmp/m.h5" --json
acc=$(/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["samples"]==1000 and d["dataset"]=="synthetic"; print(d["accuracy"])' "$tmp/out") \
  && pass "evaluate --json is one JSON object (accuracy $acc)" || fail "evaluate --json output: $(cat "$tmp/out")"
/usr/bin/python3 -c "import sys; sys.exit(0 if float('$acc') > 0.8 else 1)" && pass "synthetic accuracy > 0.8" || fail "synthetic accuracy $acc"

expect_status 0 "evaluate --predictions" "$ioca" evaluate --model "$tmp/m.h5" --split validation --predictions "$tmp/pred.txt"
[ "$(wc -l <"$tmp/pred.txt")" -eq 1000 ] && pass "one prediction per validation sample" || fail "predictions: $(wc -l <"$tmp/pred.txt") lines"

# Same seed, same bits, whatever the thread count.
OMP_NUM_THREADS=1 "$ioca" train "${syn[@]}" --hidden 64,32 --epochs 2 --seed 5 --out "$tmp/t1.h5" --quiet >/dev/null
OMP_NUM_THREADS=2 "$ioca" train "${syn[@]}" --hidden 64,32 --epochs 2 --seed 5 --out "$tmp/t2.h5" --quiet >/dev/null
h5diff "$tmp/t1.h5" "$tmp/t2.h5" /layers /layers >/dev/null && pass "1 and 2 threads give identical weights" || fail "weights differ between 1 and 2 threads"
"$ioca" train "${syn[@]}" --hidden 64,32 --epochs 2 --seed 6 --out "$tmp/t3.h5" --quiet >/dev/null
# One width syntax: 64x32 (as in a study) is the same network as 64,32.
OMP_NUM_THREADS=1 "$ioca" train "${syn[@]}" --hidden 64x32 --epochs 2 --seed 5 --out "$tmp/t1x.h5" --quiet >/dev/null
h5diff "$tmp/t1.h5" "$tmp/t1x.h5" /layers /layers >/dev/null && pass "--hidden 64x32 trains the network of --hidden 64,32" ||
  fail "--hidden 64x32 and 64,32 differ"
h5diff -q "$tmp/t1.h5" "$tmp/t3.h5" /layers /layers >/dev/null && fail "another seed gave the same weights" || pass "another seed gives other weights"

# The information plane over training: snapshots leave the weights as they were, and the
# model file holds /training/information_plane; bad values are one-line errors.
expect_status 0 "train --snapshots" "$ioca" train "${syn[@]}" --hidden 64,32 --epochs 2 --seed 5 \
  --snapshots 2,0 --snapshot-samples 300 --kde-noise-variance 0.5 --out "$tmp/snap.h5"
h5diff "$tmp/t1.h5" "$tmp/snap.h5" /layers /layers >/dev/null && pass "snapshots leave the trained weights unchanged" ||
  fail "weights differ with snapshots"
[ "$(grep -c '^snapshot epoch' "$tmp/err")" -eq 4 ] && pass "train prints 2 snapshots x 2 layers" ||
  fail "snapshot lines: $(cat "$tmp/err")"
/usr/bin/python3 - "$tmp/snap.h5" <<'PY' && pass "model file: /training/information_plane" || fail "model file's training plane"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
g = f["training/information_plane"]
assert list(g["epochs"][()]) == [0, 2]
assert int(g.attrs["samples"]) == 300 and float(g.attrs["kde_noise_variance"]) == 0.5
for k in ("0", "1"):
    for q in ("binned_entropy", "binned_mutual_information", "saturated", "kde_upper_xt", "kde_upper_ty"):
        assert g[f"layers/{k}/{q}"].shape == (2,)
assert "snapshot_seconds" in f.attrs
PY
expect_status 0 "evaluate a model with snapshots" "$ioca" evaluate --model "$tmp/snap.h5"
for bad in "--snapshots 3" "--snapshots 1,1" "--snapshots=-1" "--snapshots one" "--snapshot-bins 10" \
  "--snapshots 1 --snapshot-bins 1" "--snapshots 1 --kde-noise-variance -1" \
  "--snapshots 1 --snapshot-split holdout" "--snapshots 1 --snapshot-samples -5" \
  "--snapshots 1 --snapshot-binning fancy"; do
  # shellcheck disable=SC2086
  expect_status 2 "train $bad" "$ioca" train "${syn[@]}" --epochs 2 $bad --out "$tmp/bad.h5"
  grep -q -e "--snapshot" -e "--kde-noise-variance" "$tmp/err" && pass "the error names the option" ||
    fail "error for $bad: $(cat "$tmp/err")"
done
expect_status 2 "train --snapshots on an empty validation split" "$ioca" train "${syn[@]}" --epochs 1 \
  --validation-size 0 --snapshots 1 --out "$tmp/bad.h5"

# Config file: same keys as the options; the command line wins.
cat >"$tmp/train.ini" <<INI
dataset = synthetic
synthetic-samples = 2000
synthetic-features = 16
hidden = 20
epochs = 1
INI
expect_status 0 "train --config" "$ioca" train --config "$tmp/train.ini" --epochs 2 --out "$tmp/c.h5" --quiet
h5dump -a /epochs "$tmp/c.h5" | grep -q "(0): 2" && pass "command line overrides the config" || fail "config precedence"
echo "bogus-key = 1" >>"$tmp/train.ini"
expect_status 2 "unknown config key" "$ioca" train --config "$tmp/train.ini" --out "$tmp/bad.h5"
expect_status 2 "missing config file" "$ioca" train --config "$tmp/none.ini" --out "$tmp/bad.h5"

# Usage mistakes: exit 2, one line.
expect_status 2 "unknown option" "$ioca" train --bogus
expect_status 2 "unknown command" "$ioca" frobnicate
expect_status 2 "bad activation" "$ioca" train "${syn[@]}" --activation gelu --out "$tmp/bad.h5"
expect_status 2 "bad widths" "$ioca" train "${syn[@]}" --hidden 10,,3 --out "$tmp/bad.h5"
for widths in 200,0 200x0 64x32,16 0; do
  expect_status 2 "bad widths $widths" "$ioca" train "${syn[@]}" --hidden "$widths" --out "$tmp/bad.h5"
  grep -q -- "^ioca train: --hidden: " "$tmp/err" && pass "the error names --hidden" || fail "error: $(cat "$tmp/err")"
done
# Defaults in the help text are the shortest exact numbers (0.35, not 0.34999999999999998).
"$ioca" train --help >"$tmp/help.txt"
grep -q -- "--synthetic-noise arg (=0.35)" "$tmp/help.txt" && grep -q -- "--momentum arg (=0.9)" "$tmp/help.txt" &&
  grep -q -- "--lr arg (=0.001)" "$tmp/help.txt" && ! grep -qE "[0-9]\.[0-9]{12,}" "$tmp/help.txt" &&
  pass "train --help: defaults 0.35, 0.9, 0.001" || fail "train --help defaults: $(grep -E 'noise|momentum|lr' "$tmp/help.txt")"
"$ioca" run --help >"$tmp/help.txt"
! grep -qE "[0-9]\.[0-9]{12,}" "$tmp/help.txt" && pass "run --help: no 17-digit defaults" ||
  fail "run --help: $(grep -E '[0-9]\.[0-9]{12,}' "$tmp/help.txt")"
# "1 thread", not "1 threads".
OMP_NUM_THREADS=1 "$ioca" train "${syn[@]}" --hidden 8 --epochs 1 --out "$tmp/one.h5" 2>"$tmp/one.err" >/dev/null
grep -q "kernels [a-z0-9]*, 1 thread$" "$tmp/one.err" && pass "train says 1 thread" || fail "train: $(head -n 1 "$tmp/one.err")"
expect_status 2 "negative epochs" "$ioca" train "${syn[@]}" --epochs -1 --out "$tmp/bad.h5"
expect_status 2 "non-numeric lr" "$ioca" train "${syn[@]}" --lr fast --out "$tmp/bad.h5"
expect_status 2 "missing --out" "$ioca" train "${syn[@]}"
expect_status 2 "unknown dataset" "$ioca" train --dataset imagenet --out "$tmp/bad.h5"
expect_status 2 "validation larger than the training set" "$ioca" train "${syn[@]}" --validation-size 5000 --out "$tmp/bad.h5"
expect_status 2 "missing data directory" "$ioca" train --dataset mnist --data-dir "$tmp/nowhere" --out "$tmp/bad.h5"
expect_status 2 "unwritable output" "$ioca" train "${syn[@]}" --epochs 1 --quiet --out "$tmp/no/such/dir/m.h5"
expect_status 2 "evaluate a missing model" "$ioca" evaluate --model "$tmp/none.h5"
echo "garbage" >"$tmp/garbage.h5"
expect_status 2 "evaluate a non-HDF5 model" "$ioca" evaluate --model "$tmp/garbage.h5"
# A tiny MNIST-format data set (28x28 images) that the 32-input model cannot take.
mkdir -p "$tmp/tiny"
/usr/bin/python3 - "$tmp/tiny" <<'PY'
import struct, sys, os
d = sys.argv[1]
for prefix, n in (("train", 20), ("t10k", 10)):
    with open(os.path.join(d, prefix + "-images-idx3-ubyte"), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 28, 28) + bytes(n * 784))
    with open(os.path.join(d, prefix + "-labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + bytes(i % 10 for i in range(n)))
PY
expect_status 2 "model that does not fit the data" "$ioca" evaluate --model "$tmp/m.h5" --dataset mnist --data-dir "$tmp/tiny" --validation-size 5
expect_status 2 "bad split" "$ioca" evaluate --model "$tmp/m.h5" --split holdout
[ ! -e "$tmp/bad.h5" ] && pass "no output file after a failure" || fail "a failed run left $tmp/bad.h5"
ls "$tmp" | grep -q '\.tmp\.' && fail "temporary files left: $(ls "$tmp")" || pass "no temporary files left"

# measure: the measures file, its summary, and its bad inputs.
expect_status 0 "measure --out --print" "$ioca" measure --model "$tmp/m.h5" --out "$tmp/meas.h5" --print
grep -q "mutual_information" "$tmp/out" && pass "measure --print shows a summary" || fail "measure --print output: $(cat "$tmp/out")"
h5ls -r "$tmp/meas.h5" | grep -q "/layers/1/kl_selectivity_class" && pass "measures file has /layers/K/<quantity>" || fail "measures file layout: $(h5ls -r "$tmp/meas.h5")"
OMP_NUM_THREADS=1 "$ioca" measure --model "$tmp/m.h5" --out "$tmp/meas1.h5" --binning quantile 2>/dev/null
OMP_NUM_THREADS=2 "$ioca" measure --model "$tmp/m.h5" --out "$tmp/meas2.h5" --binning quantile 2>/dev/null
h5diff "$tmp/meas1.h5" "$tmp/meas2.h5" >/dev/null && pass "measure: 1 and 2 threads give identical files" || fail "measure differs between 1 and 2 threads"
# The MI permutation null: its datasets and attributes, the same bits for 1 and 2 threads,
# and a seed that matters.
OMP_NUM_THREADS=1 "$ioca" measure --model "$tmp/m.h5" --out "$tmp/null1.h5" --mi-null 40 2>/dev/null
OMP_NUM_THREADS=2 "$ioca" measure --model "$tmp/m.h5" --out "$tmp/null2.h5" --mi-null 40 2>/dev/null
"$ioca" measure --model "$tmp/m.h5" --out "$tmp/null3.h5" --mi-null 40 --mi-null-seed 3 2>/dev/null
h5diff "$tmp/null1.h5" "$tmp/null2.h5" >/dev/null && pass "measure --mi-null: 1 and 2 threads give identical files" || fail "measure --mi-null differs between 1 and 2 threads"
h5diff -q "$tmp/null1.h5" "$tmp/null3.h5" /layers/0/mutual_information_null_mean /layers/0/mutual_information_null_mean >/dev/null \
  && fail "another --mi-null-seed gave the same null" || pass "another --mi-null-seed gives another null"
/usr/bin/python3 - "$tmp/null1.h5" "$tmp/meas.h5" <<'PY' && pass "measures: kl_selectivity_corrected, and the null only with --mi-null" || fail "measures with --mi-null"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1]) as f, h5py.File(sys.argv[2]) as g:
    assert f.attrs["mi_null_permutations"] == 40 and f.attrs["mi_null_seed"] == 0
    assert "mi_null_permutations" not in g.attrs
    for k in ("0", "1"):
        L = f["layers"][k]
        p = L["mutual_information_null_p"][:]
        assert np.all((p >= 1 / 41 - 1e-15) & (p <= 1)), p
        assert np.all(L["mutual_information_null_q95"][:] >= L["mutual_information_null_mean"][:] - 1e-12)
        assert np.all(L["kl_selectivity_corrected"][:] <= L["kl_selectivity"][:] + 1e-12)
        assert "mutual_information_null_p" not in g["layers"][k] and "kl_selectivity_corrected" in g["layers"][k]
PY
expect_status 0 "ablate by the corrected KL and the null p-value" "$ioca" ablate --model "$tmp/m.h5" --measures "$tmp/null1.h5" --by kl_selectivity_corrected,mutual_information_null_p --random 0 --out "$tmp/abl-null.h5"
expect_status 2 "ablate by the null of measures without it" "$ioca" ablate --model "$tmp/m.h5" --measures "$tmp/meas.h5" --by mutual_information_null_mean --random 0 --out "$tmp/bad.h5"
grep -q "mi-null" "$tmp/err" && pass "the error says to measure with --mi-null" || fail "error: $(cat "$tmp/err")"
expect_status 2 "measure --mi-null -1" "$ioca" measure --model "$tmp/m.h5" --mi-null -1 --print
expect_status 0 "measure --quiet" "$ioca" measure --model "$tmp/m.h5" --out "$tmp/measq.h5" --quiet
[ ! -s "$tmp/err" ] && [ -s "$tmp/measq.h5" ] && pass "measure --quiet writes the file and nothing on stderr" ||
  fail "measure --quiet stderr: $(cat "$tmp/err")"
"$ioca" measure --model "$tmp/m.h5" --out "$tmp/measq.h5" 2>&1 >/dev/null | grep -q "^ioca measure: 2 hidden layers, " &&
  pass "measure without --quiet says what it did" || fail "measure progress line missing"
expect_status 2 "measure without --out or --print" "$ioca" measure --model "$tmp/m.h5"
expect_status 2 "measure --bins 1" "$ioca" measure --model "$tmp/m.h5" --bins 1 --print
expect_status 2 "measure unknown binning" "$ioca" measure --model "$tmp/m.h5" --binning kmeans --print
expect_status 2 "measure unknown estimator" "$ioca" measure --model "$tmp/m.h5" --estimator nsb --print
expect_status 2 "measure unwritable output" "$ioca" measure --model "$tmp/m.h5" --out "$tmp/no/dir/x.h5"
expect_status 2 "measure a missing model" "$ioca" measure --model "$tmp/none.h5" --print
expect_status 2 "measure with an empty split" "$ioca" measure --model "$tmp/m.h5" --validation-size 0 --print
[ ! -e "$tmp/no/dir/x.h5" ] || fail "measure left an output behind"

expect_status 0 "--help" "$ioca" --help
expect_status 0 "train --help" "$ioca" train --help
grep -q -- "--batch-size" "$tmp/out" && pass "train --help lists --batch-size" || fail "train --help"
expect_status 0 "--version" "$ioca" --version

finish "e2e cli"
