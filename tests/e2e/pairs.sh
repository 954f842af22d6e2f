#!/usr/bin/env bash
# `ioca measure --pairs` on planted structure: a hand-made network whose hidden neurons are
# an XOR pair (pure synergy), a copied neuron (pure redundancy) and an independent pair
# (information unique to one neuron), on IDX data of exactly balanced patterns; prints the
# validation table (pair, expected and measured redundancy / unique / synergy) and checks
# it. Then the file's layout and consistency, 1 and 2 threads, --print, and a study with
# measure.pairs = true under two measure settings: its pairs equal standalone `ioca
# measure --pairs`, and `--dry-run` announces the array bytes the run stores; and a study
# with ablation.pair_interactions (selection, interaction, dry-run bytes, bad configs).
# usage: pairs.sh IOCA MPIEXEC
set -uo pipefail
ioca=$1 mpiexec=$2
source "$(dirname "$0")/../mpi/lib.sh"
cd "$tmp"

# The data: 2x2 images of pixels (x1, x2, y, z), each 0 or 255, three independent fair bits
# x1, x2, z and the label y = x1 xor x2. The test split holds each of the 8 patterns 50
# times (so the plug-in estimates are the closed forms exactly); the training file only
# has to exist. The network: hidden layer 0 of 5 ReLU neurons reading one pixel each,
#   neuron 0 = x1, 1 = x2 (the XOR pair), 2 = y, 3 = y (a copy), 4 = z (noise),
# hidden layer 1 one neuron (no pairs), and an output layer of 10 classes.
mkdir -p planted
/usr/bin/python3 - planted <<'PY'
import os, struct, sys
import h5py, numpy as np
d = sys.argv[1]
def write(prefix, patterns):
    images = bytes(255 * v for x1, x2, z in patterns for v in (x1, x2, x1 ^ x2, z))
    with open(os.path.join(d, prefix + "-images-idx3-ubyte"), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, len(patterns), 2, 2) + images)
    with open(os.path.join(d, prefix + "-labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">II", 0x801, len(patterns)) + bytes(x1 ^ x2 for x1, x2, z in patterns))
eight = [(p & 1, (p >> 1) & 1, (p >> 2) & 1) for p in range(8)]
write("t10k", eight * 50)
write("train", eight * 5)
with h5py.File(os.path.join(d, "planted.h5"), "w") as f:
    f.attrs["ioca_model_format"] = 1
    w0 = np.zeros((5, 4), np.float32)
    for neuron, pixel in enumerate((0, 1, 2, 2, 3)):
        w0[neuron, pixel] = 1
    w1 = np.zeros((1, 5), np.float32); w1[0, 2] = 1
    w2 = np.zeros((10, 1), np.float32); w2[1, 0] = 1
    for k, (w, act) in enumerate(((w0, "relu"), (w1, "relu"), (w2, "identity"))):
        g = f.create_group(f"layers/{k}")
        g["weight"] = w
        g["bias"] = np.zeros(w.shape[0], np.float32)
        g.attrs["activation"] = act
PY
data=(--dataset mnist --data-dir "$tmp/planted" --validation-size 10 --split test)
expect_status 0 "measure --pairs on the planted network" "$ioca" measure --model planted/planted.h5 "${data[@]}" --pairs --out planted.h5 --print
cp out print.txt

/usr/bin/python3 - planted.h5 <<'PY' && pass "planted structure: every pair as expected" || fail "planted structure"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
p = f["layers/0/pairs"]
first, second = p["first"][:], p["second"][:]
assert list(zip(first, second)) == [(i, j) for i in range(5) for j in range(i + 1, 5)], (first, second)
names = ("redundancy", "unique_first", "unique_second", "synergy")
# expected (redundancy, unique_first, unique_second, synergy) in bits
planted = {(0, 1): ("XOR pair", (0, 0, 0, 1)), (2, 3): ("copy", (1, 0, 0, 0)),
           (2, 4): ("y and noise", (0, 1, 0, 0)), (0, 2): ("x1 and y", (0, 0, 1, 0)),
           (1, 3): ("x2 and y", (0, 0, 1, 0)), (0, 4): ("x1 and noise", (0, 0, 0, 0)),
           (3, 4): ("y and noise", (0, 1, 0, 0))}
print(f"{'pair':8} {'planted':13} {'expected R/U1/U2/S':20} measured R / U1 / U2 / S (bits)")
ok = True
for k, (i, j) in enumerate(zip(first, second)):
    if (i, j) not in planted:
        continue
    what, want = planted[(i, j)]
    got = [p[n][k] for n in names]
    good = np.allclose(got, want, atol=1e-9)
    ok &= good
    print(f"({i}, {j})   {what:13} {'/'.join(str(v) for v in want):20} "
          + " / ".join(f"{v:+.12f}" for v in got) + ("" if good else "   <- WRONG"))
assert ok
# Consistency with the measures (plug-in): R + U1 = I(Ti;Y), R + U2 = I(Tj;Y), the parts sum
# to the joint MI, co-information = R - S.
mi = f["layers/0/mutual_information"][:]
R, U1, U2, S, J, CO = (p[n][:] for n in names + ("joint_mutual_information", "co_information"))
assert np.allclose(R + U1, mi[first], atol=1e-12) and np.allclose(R + U2, mi[second], atol=1e-12)
assert np.allclose(R + U1 + U2 + S, J, atol=1e-9) and np.allclose(CO, R - S, atol=1e-12)
assert all(p[n].dtype == np.float64 for n in names) and first.dtype == np.int64
# Layer 1 has one neuron: its pairs group is there, empty.
assert all(f["layers/1/pairs"][n].shape == (0,) for n in ("first", "second") + names)
PY
grep -Eq '^0 +pairs: 10,.*most redundant \(2, 3\) 1,.*most synergistic \(0, 1\) 1$' print.txt &&
  pass "--print: a pairs line per layer naming the planted pairs" || fail "--print pairs line: $(grep pairs print.txt)"
grep -q '^1 .*pairs: none' print.txt && pass "--print: a one-neuron layer has no pairs" || fail "--print: $(grep pairs print.txt)"

# Binary binning at 0.5 bins the same bits: the same decomposition.
"$ioca" measure --model planted/planted.h5 "${data[@]}" --binning binary --threshold 0.5 --pairs --out binary.h5 2>/dev/null
h5diff planted.h5 binary.h5 /layers/0/pairs /layers/0/pairs >/dev/null && pass "binary binning: the same pairs" || fail "binary binning pairs differ"

# A trained network: 1 and 2 threads, the same bits; no pairs without --pairs.
syn=(--dataset synthetic --synthetic-samples 3000 --synthetic-test-samples 500 --synthetic-features 24)
"$ioca" train "${syn[@]}" --hidden 30,12 --epochs 2 --out m.h5 --quiet >/dev/null
OMP_NUM_THREADS=1 "$ioca" measure --model m.h5 --binning quantile --pairs --out t1.h5 2>/dev/null
OMP_NUM_THREADS=2 "$ioca" measure --model m.h5 --binning quantile --pairs --out t2.h5 2>/dev/null
"$ioca" measure --model m.h5 --binning quantile --out plain.h5 2>/dev/null
h5diff t1.h5 t2.h5 >/dev/null && pass "measure --pairs: 1 and 2 threads give identical files" || fail "1 and 2 threads differ"
/usr/bin/python3 - t1.h5 plain.h5 <<'PY' && pass "435 and 66 pairs; none without --pairs; the rest unchanged" || fail "pairs layout"
import sys, h5py
with h5py.File(sys.argv[1], "r") as f, h5py.File(sys.argv[2], "r") as g:
    assert f["layers/0/pairs/synergy"].shape == (435,) and f["layers/1/pairs/first"].shape == (66,)
    assert "pairs" not in g["layers/0"]
    for q in ("entropy", "mutual_information", "kl_selectivity"):
        assert (f["layers/0"][q][:] == g["layers/0"][q][:]).all()
PY
expect_status 2 "measure --pairs with 70000 bins" "$ioca" measure --model m.h5 --bins 70000 --pairs --print
grep -q "at most 65536 bins" err && pass "the error names the limit" || fail "error: $(cat err)"

# A study of the planted model with measure.pairs = true under two measure settings.
cat >study.ini <<INI
name = pairs
[data]
datasets = mnist
data_dir = $tmp/planted
validation_size = 10
[network]
models = $tmp/planted/planted.h5
[measure]
split = test
binning = uniform, binary
threshold = 0.5
pairs = true
[ablation]
quantities = entropy
random = 0
single = false
INI
expect_status 0 "study --dry-run with measure.pairs" "$ioca" run --config study.ini --out study.h5 --dry-run
estimated=$(sed -n 's/^  \([0-9,]*\) bytes of array values in \([0-9,]*\) arrays.*/\1 \2/p' out | tr -d ,)
run_ranks 2 1 run --config study.ini --out study.h5 --quiet >/dev/null 2>err-study || fail "study: $(cat err-study)"
run_single convert study.h5 study-v1.h5 --format 1 --quiet 2>err-convert || fail "convert: $(cat err-convert)"
net=/networks/model0-planted
same=1
for path in layers/0/pairs layers/1/pairs; do
  h5diff study-v1.h5 planted.h5 "$net/measures/$path" "/$path" >/dev/null 2>&1 || { same=0; echo "differs: $path"; }
  h5diff study-v1.h5 binary.h5 "$net/settings/binary-plugin/measures/$path" "/$path" >/dev/null 2>&1 ||
    { same=0; echo "differs: binary-plugin $path"; }
done
[ "$same" = 1 ] && pass "the study's pairs of both settings equal standalone measure --pairs" || fail "study pairs differ"
actual=$(/usr/bin/python3 - study.h5 <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    config = f.attrs["study_config"]
    assert "\npairs = true\n" in (config.decode() if isinstance(config, bytes) else config)
    print(int(f.attrs["result_bytes"]), f["datasets/path"].shape[0])
PY
)
[ -n "$estimated" ] && [ "$estimated" = "$actual" ] &&
  pass "dry run: array bytes and arrays equal the real run's ($actual)" ||
  fail "dry run estimated '$estimated', the run holds '$actual'"
expect_status 2 "study with measure.pairs = maybe" "$ioca" run --config study.ini --measure.pairs maybe --dry-run

# ablation.pair_interactions: the most redundant pair of layer 0 is the copy (2, 3), the most
# synergistic the XOR pair (0, 1); each interaction is the pair's damage minus its neurons'
# single damage as stored; the dry run's bytes again equal the run's.
pi=(run --config study.ini --measure.binning uniform --ablation.single true --ablation.pair_interactions 2)
expect_status 2 "pair_interactions without measure.pairs" "$ioca" "${pi[@]}" --measure.pairs false --dry-run
grep -q "needs measure.pairs = true" err && pass "the error names measure.pairs" || fail "error: $(cat err)"
expect_status 2 "pair_interactions without single" "$ioca" "${pi[@]}" --ablation.single false --dry-run
expect_status 0 "study --dry-run with pair_interactions" "$ioca" "${pi[@]}" --out inter.h5 --dry-run
estimated=$(sed -n 's/^  \([0-9,]*\) bytes of array values in \([0-9,]*\) arrays.*/\1 \2/p' out | tr -d ,)
run_ranks 2 1 "${pi[@]}" --out inter.h5 --quiet >/dev/null 2>err-inter || fail "study: $(cat err-inter)"
run_single convert inter.h5 inter-v1.h5 --format 1 --quiet 2>err-convert || fail "convert: $(cat err-convert)"
actual=$(/usr/bin/python3 - inter.h5 inter-v1.h5 <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[2], "r") as f:
    net = f["networks/model0-planted"]
    config = f.attrs["study_config"]
    assert "pair_interactions = 2\n" in (config.decode() if isinstance(config, bytes) else config)
    g = net["pair_interaction/layers/0"]
    assert int(g.attrs["count"]) == 2, dict(g.attrs)
    pairs = list(zip(g["first"][:], g["second"][:]))
    group = list(g["group"][:])
    assert group == [0, 0, 1, 1, 2, 2], group
    assert pairs[0] == (2, 3) and pairs[2] == (0, 1), pairs
    assert len(set(pairs[4:])) == 2, pairs
    drop = net["single_neuron/layers/0/accuracy_drop"][:]
    expected = g["accuracy_drop"][:] - drop[g["first"][:]] - drop[g["second"][:]]
    assert np.array_equal(g["accuracy_interaction"][:], expected)
    assert g["accuracy_drop"][0] == drop[2] > 0, (g["accuracy_drop"][:], drop)
    assert "pair_interaction" not in net or "1" not in net["pair_interaction/layers"]  # one neuron: no pairs
with h5py.File(sys.argv[1], "r") as f:
    print(int(f.attrs["result_bytes"]), f["datasets/path"].shape[0])
PY
) && pass "pair interactions: groups, selection and interaction as stored" || fail "pair interactions"
[ -n "$estimated" ] && [ "$estimated" = "$(echo "$actual" | tail -1)" ] &&
  pass "dry run with pair_interactions: array bytes and arrays equal the run's" ||
  fail "dry run estimated '$estimated', the run holds '$actual'"

finish "e2e pairs"
