#!/usr/bin/env bash
# End-to-end tests of `ioca ablate` on a small synthetic network: the ablation file's layout,
# the intact and fully ablated ends of the curves, naive against fast engine, thread-count
# determinism, recording points, custom orders, and every bad input.
# Usage: ablate.sh path/to/ioca
set -uo pipefail
ioca=$1
py=/usr/bin/python3
source "$(dirname "$0")/lib.sh"

# expect_bad NAME ARGS...: `ioca ablate ARGS --out $tmp/bad.h5` must exit 2 with one line on
# stderr and leave no output (nor temporary) file.
expect_bad() {
  local name=$1
  shift
  expect_status 2 "$name" "$ioca" ablate "$@" --out "$tmp/bad.h5"
  if ls "$tmp" | grep -q '^bad\.h5'; then
    fail "$name left an output file: $(ls "$tmp" | grep '^bad\.h5')"
    rm -f "$tmp"/bad.h5*
  fi
}

syn=(--dataset synthetic --synthetic-samples 3000 --synthetic-test-samples 1000 --synthetic-features 32 --synthetic-noise 0.2)

expect_status 0 "train a 24,16 network" "$ioca" train "${syn[@]}" --hidden 24,16 --epochs 2 --out "$tmp/m.h5" --quiet
expect_status 0 "measure it" "$ioca" measure --model "$tmp/m.h5" --out "$tmp/ms.h5"

expect_status 0 "ablate, all scopes" "$ioca" ablate --model "$tmp/m.h5" --measures "$tmp/ms.h5" --out "$tmp/a.h5"
grep -q "random (mean of 10)" "$tmp/out" && grep -q "^network" "$tmp/out" &&
  pass "ablate prints a per-scope summary" || fail "ablate summary: $(cat "$tmp/out")"
grep -q "sweeps in" "$tmp/err" && pass "ablate reports sweeps and wall time on stderr" ||
  fail "ablate progress: $(cat "$tmp/err")"
expect_status 0 "ablate --quiet is silent on stderr" "$ioca" ablate --model "$tmp/m.h5" --measures "$tmp/ms.h5" --random 2 --quiet --out "$tmp/q.h5"
[ ! -s "$tmp/err" ] && pass "nothing on stderr with --quiet" || fail "--quiet printed: $(cat "$tmp/err")"

# The layout, shapes, orders and the intact end of every curve.
$py - "$tmp/a.h5" "$tmp/ms.h5" <<'PY' && pass "ablation file layout, orders and intact entries" || fail "ablation file layout"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r"); ms = h5py.File(sys.argv[2], "r")
widths = [24, 16]
C = 10
assert list(f["hidden_widths"][()]) == widths, f["hidden_widths"][()]
a = f.attrs
for key in ("model", "model_fingerprint", "measures", "ablate_to", "engine", "dataset", "split",
            "samples", "classes", "seed", "random_repeats", "ioca_version", "ioca_ablation_format",
            "intact_accuracy", "intact_loss"):
    assert key in a, "missing root attribute " + key
assert a["ioca_ablation_format"] == 1 and a["classes"] == C and a["samples"] == 1000
assert a["split"] == "test" and a["ablate_to"] == "zero" and a["engine"] == "fast"
assert a["random_repeats"] == 10 and a["model_fingerprint"] == ms.attrs["model_fingerprint"]
intact = a["intact_accuracy"]
scopes = {"layer0": [(0, j) for j in range(24)], "layer1": [(1, j) for j in range(16)]}
scopes["network"] = scopes["layer0"] + scopes["layer1"]
assert sorted(f["ablation"].keys()) == sorted(scopes)
firsts = []
for s, neurons in scopes.items():
    n = len(neurons)
    g = f["ablation"][s]
    assert g.attrs["neurons"] == n, (s, g.attrs["neurons"])
    assert sorted(g.keys()) == ["entropy", "kl_selectivity", "mutual_information", "random"], list(g.keys())
    values_of = lambda q: np.array([ms["layers"][str(l)][q][j] for l, j in neurons])
    for q in ("entropy", "mutual_information", "kl_selectivity"):
        orders = {}
        for d in ("ascending", "descending"):
            c = g[q][d]
            assert c["accuracy"].shape == (n + 1,) and c["loss"].shape == (n + 1,)
            assert c["per_class_accuracy"].shape == (n + 1, C)
            assert c["ablated"].dtype == np.int64 and c["order"].dtype == np.int64
            assert list(c["ablated"][()]) == list(range(n + 1))
            assert sorted(c["order"][()]) == list(range(n)), "order is not a permutation"
            for k in ("accuracy", "loss", "per_class_accuracy"):
                assert c[k].dtype == np.float64
            orders[d] = c["order"][()]
            firsts.append((c["accuracy"][0], c["loss"][0], tuple(c["per_class_accuracy"][0])))
        v = values_of(q)
        asc, desc = orders["ascending"], orders["descending"]
        assert np.all(np.diff(v[asc]) >= 0), (s, q, "ascending order is not sorted")
        assert np.all(np.diff(v[desc]) <= 0), (s, q, "descending order is not sorted")
        # tied: the neurons whose value equals another's, recorded on both directions
        _, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
        tied = int(np.sum(counts[inverse] > 1))
        for d in ("ascending", "descending"):
            assert g[q][d].attrs["tied"] == tied, (s, q, d, g[q][d].attrs["tied"], tied)
        # ties in one seeded random permutation, the same in both directions
        for value in np.unique(v):
            assert [i for i in asc if v[i] == value] == [i for i in desc if v[i] == value], (s, q)
        if not tied:
            assert list(desc) == list(asc[::-1]), "without ties descending is the reverse"
    r = g["random"]
    R = 10
    assert r["accuracy"].shape == (R, n + 1) and r["loss"].shape == (R, n + 1)
    assert r["per_class_accuracy"].shape == (R, n + 1, C) and r["order"].shape == (R, n)
    assert list(r["ablated"][()]) == list(range(n + 1))
    for i in range(R):
        assert sorted(r["order"][i]) == list(range(n))
        firsts.append((r["accuracy"][i, 0], r["loss"][i, 0], tuple(r["per_class_accuracy"][i, 0])))
    assert len({tuple(x) for x in r["order"][()]}) == R, "random orders repeat"
assert len(set(firsts)) == 1, "entry 0 differs between curves"
assert firsts[0][0] == intact
# The single-neuron pass sums the intact loss in another order than the sweeps: equal to ~1e-15.
assert abs(firsts[0][1] - a["intact_loss"]) <= 1e-12 * firsts[0][1]
sn = f["single_neuron"]
assert sn.attrs["intact_accuracy"] == intact
for l, w in enumerate(widths):
    for k in ("accuracy_drop", "loss_increase"):
        assert sn["layers"][str(l)][k].shape == (w,) and sn["layers"][str(l)][k].dtype == np.float64
# One ablation on a layer scope is the single-neuron damage of the first neuron ablated.
for s, l in (("layer0", 0), ("layer1", 1)):
    c = f["ablation"][s]["entropy"]["ascending"]
    j = c["order"][0]
    assert abs((intact - c["accuracy"][1]) - sn["layers"][str(l)]["accuracy_drop"][j]) < 1e-12
    dl = c["loss"][1] - c["loss"][0]
    assert abs(dl - sn["layers"][str(l)]["loss_increase"][j]) <= 1e-9 * max(1.0, abs(c["loss"][0]))
PY

# The last hidden layer (and so the whole network) fully zeroed leaves the output bias alone:
# compare with evaluating a copy of the model whose output weights are zero.
$py - "$tmp/m.h5" "$tmp/bias_only.h5" <<'PY'
import sys, shutil, h5py
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], "r+") as f:
    w = f["layers/2/weight"]
    w[...] = 0
PY
"$ioca" evaluate --model "$tmp/bias_only.h5" --json >"$tmp/bias.json" 2>/dev/null
$py - "$tmp/a.h5" "$tmp/bias.json" <<'PY' && pass "last hidden layer fully ablated = predicting from the output bias" || fail "bias-only accuracy at the end of the last hidden layer's curves"
import sys, json, h5py
f = h5py.File(sys.argv[1], "r"); want = json.load(open(sys.argv[2]))["accuracy"]
for s in ("layer1", "network"):  # layer1 is the LAST hidden layer; layer0 is not checked
    g = f["ablation"][s]
    ends = [g[q][d]["accuracy"][-1] for q in ("entropy", "mutual_information", "kl_selectivity")
            for d in ("ascending", "descending")] + list(g["random"]["accuracy"][:, -1])
    assert all(e == want for e in ends), (s, ends, want)
PY

# The naive engine gives the same curves.
expect_status 0 "ablate --engine naive" "$ioca" ablate --model "$tmp/m.h5" --measures "$tmp/ms.h5" --engine naive --quiet --out "$tmp/naive.h5"
$py - "$tmp/a.h5" "$tmp/naive.h5" <<'PY' && pass "naive and fast engines: identical accuracy, loss within 1e-9" || fail "naive and fast engines differ"
import sys, h5py, numpy as np
a = h5py.File(sys.argv[1], "r"); b = h5py.File(sys.argv[2], "r")
intact_loss = a.attrs["intact_loss"]
assert a.attrs["intact_accuracy"] == b.attrs["intact_accuracy"] and b.attrs["engine"] == "naive"
count = 0
def visit(name, obj):
    global count
    if not isinstance(obj, h5py.Dataset):
        return
    x, y = obj[()], b[name][()]
    assert x.shape == y.shape, name
    if name.endswith("/loss"):
        assert np.all(np.abs(x - y) <= 1e-9 * np.abs(x)), name
    elif name.endswith("/loss_increase"):  # a difference of two losses of about 1
        assert np.all(np.abs(x - y) <= 1e-9 * intact_loss), name
    elif name.endswith("/accuracy_drop"):
        # The fast engine divides the change in correct counts by n, the naive one subtracts
        # two accuracies: the same to the last bit or two.
        assert np.all(np.abs(x - y) <= 1e-12), name
    else:
        assert np.array_equal(x, y, equal_nan=True), name
    count += 1
a["ablation"].visititems(lambda n, o: visit("ablation/" + n, o))
a["single_neuron"].visititems(lambda n, o: visit("single_neuron/" + n, o))
assert count > 50, count
PY

# Thread counts do not change a bit.
OMP_NUM_THREADS=1 "$ioca" ablate --model "$tmp/m.h5" --measures "$tmp/ms.h5" --random 4 --quiet --out "$tmp/t1.h5" >/dev/null
OMP_NUM_THREADS=2 "$ioca" ablate --model "$tmp/m.h5" --measures "$tmp/ms.h5" --random 4 --quiet --out "$tmp/t2.h5" >/dev/null
h5diff "$tmp/t1.h5" "$tmp/t2.h5" /ablation /ablation >/dev/null &&
  h5diff "$tmp/t1.h5" "$tmp/t2.h5" /single_neuron /single_neuron >/dev/null &&
  pass "1 and 2 threads give identical /ablation and /single_neuron" || fail "ablation differs between 1 and 2 threads"
"$ioca" ablate --model "$tmp/m.h5" --measures "$tmp/ms.h5" --random 4 --seed 99 --quiet --out "$tmp/t3.h5" >/dev/null
h5diff -q "$tmp/t1.h5" "$tmp/t3.h5" /ablation/layer0/random/order /ablation/layer0/random/order >/dev/null &&
  fail "another --seed gave the same random orders" || pass "another --seed gives other random orders"

# Ties: quantile bins give every tanh neuron about the same entropy, so the entropy orders are
# mostly tie-breaking: a permutation seeded by --seed (another seed, another permutation), not
# the neuron index, recorded with its count of tied neurons.
"$ioca" train "${syn[@]}" --hidden 24,16 --activation tanh --epochs 1 --out "$tmp/tanh.h5" --quiet >/dev/null
"$ioca" measure --model "$tmp/tanh.h5" --binning quantile --bins 8 --out "$tmp/tanh_ms.h5" >/dev/null 2>&1
for run in 5:ties5 5:ties5_again 6:ties6; do
  "$ioca" ablate --model "$tmp/tanh.h5" --measures "$tmp/tanh_ms.h5" --by entropy --random 0 --no-single \
    --steps 2 --seed "${run%%:*}" --quiet --out "$tmp/${run#*:}.h5" >/dev/null
done
h5diff "$tmp/ties5.h5" "$tmp/ties5_again.h5" /ablation /ablation >/dev/null &&
  pass "the same --seed breaks ties alike" || fail "the same --seed broke ties differently"
$py - "$tmp/ties5.h5" "$tmp/ties6.h5" "$tmp/tanh_ms.h5" <<'PY' && pass "ties: seeded random permutation, same in both directions, tied counted" || fail "tie-breaking"
import sys, h5py, numpy as np
a, b, ms = (h5py.File(p, "r") for p in sys.argv[1:4])
v = {"layer0": ms["layers/0/entropy"][()], "layer1": ms["layers/1/entropy"][()]}
v["network"] = np.concatenate([v["layer0"], v["layer1"]])
for s, values in v.items():
    n = len(values)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    tied = int(np.sum(counts[inverse] > 1))
    assert tied >= n // 2, (s, tied, "the quantile-binned tanh entropies should mostly tie")
    for d in ("ascending", "descending"):
        ga, gb = a["ablation"][s]["entropy"][d], b["ablation"][s]["entropy"][d]
        assert ga.attrs["tied"] == tied and gb.attrs["tied"] == tied, (s, d, ga.attrs["tied"], tied)
        oa, ob = list(ga["order"][()]), list(gb["order"][()])
        assert oa != ob, (s, d, "another --seed gave the same tie order")
        for value in np.unique(values):  # within a tie group: not index order
            group = [i for i in oa if values[i] == value]
            assert len(group) < 4 or group != sorted(group), (s, d, "ties in index order")
    asc, desc = (list(a["ablation"][s]["entropy"][d]["order"][()]) for d in ("ascending", "descending"))
    for value in np.unique(values):
        assert [i for i in asc if values[i] == value] == [i for i in desc if values[i] == value]
PY

# --steps 5: six recorded points, 0 and n included; --no-single; --ablate-to mean; custom orders.
cat >"$tmp/orders.txt" <<'ORD'
# custom orders: <scope> <name> <indices...>
layer1 first-half 0 1 2 3 4 5 6 7

network mixed_1 30 2 39 0
ORD
expect_status 0 "ablate --steps 5 --no-single --ablate-to mean --order-file" "$ioca" ablate --model "$tmp/m.h5" --measures "$tmp/ms.h5" \
  --scope layer0,network --by mutual_information,single_damage --direction descending --random 3 --steps 5 --no-single \
  --ablate-to mean --order-file "$tmp/orders.txt" --quiet --out "$tmp/s.h5"
$py - "$tmp/s.h5" <<'PY' && pass "--steps 5 gives 6 points; custom orders stored" || fail "--steps / custom orders layout"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
assert f.attrs["ablate_to"] == "mean" and "intact_accuracy" in f.attrs
assert sorted(f["ablation"].keys()) == ["layer0", "layer1", "network"], list(f["ablation"].keys())
for s, n in (("layer0", 24), ("network", 40)):
    g = f["ablation"][s]
    for q in ("mutual_information", "single_damage"):
        c = g[q]["descending"]
        assert list(g[q].keys()) == ["descending"]
        assert c["accuracy"].shape == (6,) and c["per_class_accuracy"].shape == (6, 10)
        assert c["ablated"][0] == 0 and c["ablated"][-1] == n and c["order"].shape == (n,)
    assert g["random"]["accuracy"].shape == (3, 6) and g["random"]["order"].shape == (3, n)
assert list(f["ablation/layer1"].keys()) == ["custom"], list(f["ablation/layer1"].keys())
c = f["ablation/layer1/custom/first-half"]
assert list(c["order"][()]) == list(range(8)) and c["accuracy"].shape == (6,)
assert c["ablated"][-1] == 8
c = f["ablation/network/custom/mixed_1"]
assert list(c["order"][()]) == [30, 2, 39, 0] and list(c["ablated"][()]) == [0, 1, 2, 3, 4]
PY

# Bad inputs: exit 2, one line on stderr, no output file.
"$ioca" train "${syn[@]}" --hidden 24,16 --epochs 1 --seed 9 --out "$tmp/other.h5" --quiet >/dev/null
"$ioca" measure --model "$tmp/other.h5" --out "$tmp/other_ms.h5" 2>/dev/null
expect_bad "measures of another model" --model "$tmp/m.h5" --measures "$tmp/other_ms.h5"
grep -q "other_ms.h5" "$tmp/err" && grep -q "m.h5" "$tmp/err" && pass "the mismatch names both files" ||
  fail "mismatch message: $(cat "$tmp/err")"
$py - "$tmp/ms.h5" "$tmp/ms_narrow.h5" "$tmp/ms_short.h5" <<'PY'
import sys, shutil, h5py
shutil.copy(sys.argv[1], sys.argv[2]); shutil.copy(sys.argv[1], sys.argv[3])
with h5py.File(sys.argv[2], "r+") as f:  # layer 1 with 15 neurons instead of 16
    g = f["layers/1"]
    for k in list(g.keys()):
        if k == "histogram":
            continue
        d = g[k][()]
        del g[k]
        g[k] = d[:15]
with h5py.File(sys.argv[3], "r+") as f:  # one hidden layer instead of two
    del f["layers/1"]
PY
expect_bad "measures with a wrong layer width" --model "$tmp/m.h5" --measures "$tmp/ms_narrow.h5"
expect_bad "measures with a wrong layer count" --model "$tmp/m.h5" --measures "$tmp/ms_short.h5"
expect_bad "unknown quantity" --model "$tmp/m.h5" --measures "$tmp/ms.h5" --by entropy,beauty
grep -q "mutual_information" "$tmp/err" && pass "unknown quantity lists the valid ones" || fail "quantity message: $(cat "$tmp/err")"
expect_bad "unknown scope" --model "$tmp/m.h5" --measures "$tmp/ms.h5" --scope layer0,layer7
expect_bad "negative --random" --model "$tmp/m.h5" --measures "$tmp/ms.h5" --random=-1
expect_bad "negative --steps" --model "$tmp/m.h5" --measures "$tmp/ms.h5" --steps=-3
expect_bad "unknown direction" --model "$tmp/m.h5" --measures "$tmp/ms.h5" --direction sideways
expect_bad "unknown --ablate-to" --model "$tmp/m.h5" --measures "$tmp/ms.h5" --ablate-to one
expect_bad "unknown engine" --model "$tmp/m.h5" --measures "$tmp/ms.h5" --engine turbo
expect_bad "measured quantity without --measures" --model "$tmp/m.h5"
expect_bad "missing measures file" --model "$tmp/m.h5" --measures "$tmp/none.h5"
expect_bad "missing model" --model "$tmp/none.h5" --measures "$tmp/ms.h5"
n=0
while IFS= read -r line; do
  n=$((n + 1))
  printf '# comment\nlayer1 fine 3 1\n%s\n' "$line" >"$tmp/bad_orders.txt"
  expect_bad "order file: $line" --model "$tmp/m.h5" --measures "$tmp/ms.h5" --order-file "$tmp/bad_orders.txt"
  grep -q "line 3" "$tmp/err" && pass "order file error names line 3" || fail "order file message: $(cat "$tmp/err")"
done <<'LINES'
layer9 x 1 2
layer0 x 1 24
layer0 x 1 -1
layer0 x 1 2 1
layer0 x/y 1 2
layer0 x 1 2b
layer0 x
layer0
layer1 fine 4
LINES
expect_bad "missing order file" --model "$tmp/m.h5" --measures "$tmp/ms.h5" --order-file "$tmp/none.txt"
expect_status 2 "unwritable --out" "$ioca" ablate --model "$tmp/m.h5" --measures "$tmp/ms.h5" --out "$tmp/no/such/dir/a.h5"
expect_status 2 "--out is a folder" "$ioca" ablate --model "$tmp/m.h5" --measures "$tmp/ms.h5" --out "$tmp"
expect_status 2 "missing --out" "$ioca" ablate --model "$tmp/m.h5" --measures "$tmp/ms.h5"
ls "$tmp" | grep -q '\.tmp\.' && fail "temporary files left: $(ls "$tmp")" || pass "no temporary files left"
expect_status 0 "ablate --help" "$ioca" ablate --help
grep -q -- "--order-file" "$tmp/out" && pass "ablate --help lists --order-file" || fail "ablate --help"

finish "e2e ablate"
