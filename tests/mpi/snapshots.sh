#!/usr/bin/env bash
# A study with the information plane over training (train.snapshots): the layout of
# /networks/<net>/training/information_plane, the same file on 1 and 2 ranks and threads,
# after SIGTERM and --resume, from merged array parts and through format 1 and back; the
# dry run's array bytes equal the real run's; a study without snapshots has none of it;
# bad snapshot keys are one-line errors.
# usage: snapshots.sh IOCA MPIEXEC
set -uo pipefail
ioca=$1 mpiexec=$2
source "$(dirname "$0")/lib.sh"
cd "$tmp"
study_config study.ini
sed -i 's/^quantities = .*/quantities = entropy, single_damage/; s/^random = 3$/random = 2/' study.ini
snap=(--train.snapshots "2, 0, 1" --train.snapshot_samples 400 --train.snapshot_bins 10)

for setup in "1 1" "2 1" "1 2"; do
  read -r ranks threads <<<"$setup"
  run_ranks "$ranks" "$threads" run --config study.ini "${snap[@]}" --out "r${ranks}t${threads}.h5" \
    --quiet >/dev/null 2>"err-$ranks-$threads" && pass "snapshot study on $ranks ranks x $threads threads" ||
    fail "snapshot study on $ranks ranks x $threads threads: $(cat "err-$ranks-$threads")"
done
for f in r2t1 r1t2; do
  h5diff --exclude-path /provenance r1t1.h5 "$f.h5" >"diff-$f" 2>&1 &&
    pass "h5diff r1t1 $f: identical outside /provenance" || fail "h5diff r1t1 $f: $(head -5 "diff-$f")"
done

# The layout, read back through the format-1 view (ioca convert) with plain h5py.
run_single convert r1t1.h5 v1.h5 --format 1 --quiet 2>err-convert || fail "convert: $(cat err-convert)"
if /usr/bin/python3 - v1.h5 >layout.txt 2>&1 <<'PY'; then
import sys, math, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
nets = list(f["networks"])
assert len(nets) == 4, nets
for name in nets:
    g = f[f"networks/{name}/training/information_plane"]
    assert list(g["epochs"][()]) == [0, 1, 2], g["epochs"][()]
    assert g.attrs["binning"] in (b"uniform", "uniform") and int(g.attrs["bins"]) == 10
    assert int(g.attrs["samples"]) == 400 and abs(g.attrs["log2_samples"] - math.log2(400)) < 1e-12
    assert float(g.attrs["kde_noise_variance"]) == 0.1
    assert sorted(g["layers"]) == ["0", "1"]
    for k in ("0", "1"):
        L = g[f"layers/{k}"]
        for q in ("binned_entropy", "binned_mutual_information", "kde_upper_xt", "kde_upper_ty"):
            assert L[q].shape == (3,) and L[q].dtype == np.float64, q
        s = L["saturated"][()]
        assert s.dtype == np.int64 and set(s) <= {0, 1}
        h = L["binned_entropy"][()]
        assert np.array_equal(s, (h >= 0.99 * math.log2(400)).astype(np.int64))
        assert np.all(L["kde_upper_xt"][()] <= math.log2(400) + 1e-9)
        assert np.all(L["kde_upper_ty"][()] <= L["kde_upper_xt"][()] + 1e-12)
        assert np.all(L["binned_mutual_information"][()] <= h + 1e-12)
    # Epoch 2 is the trained network: its snapshot differs from the untrained one.
    assert g["layers/0/kde_upper_xt"][0] != g["layers/0/kde_upper_xt"][2]
print("ok")
PY
  pass "training/information_plane: epochs, [S] arrays per layer, attributes, bounds"
else
  fail "training/information_plane layout: $(cat layout.txt)"
fi
run_single convert v1.h5 v2.h5 --quiet && h5diff --exclude-path /provenance r1t1.h5 v2.h5 >/dev/null 2>&1 &&
  pass "convert to format 1 and back keeps the snapshots" || fail "convert round trip differs"

# SIGTERM part-way (checkpoints after every synchronisation), then --resume: equal.
run_ranks 2 1 run --config study.ini "${snap[@]}" --run.checkpoint_interval 0 --out term.h5 --quiet \
  2>term.err >/dev/null &
job=$!
for ((i = 0; i < 600; i++)); do [ -e term.h5.checkpoint ] && break; sleep 0.1; done
signal_ranks TERM "$job"
wait $job
status=$?
if [ "$status" -eq 0 ]; then
  pass "SIGTERM came after the end (nothing to resume; the file is checked below)"
else
  [ "$status" -eq 3 ] && pass "SIGTERM: exit status 3" || fail "SIGTERM: exit $status: $(cat term.err)"
  run_ranks 2 1 run --config study.ini "${snap[@]}" --out term.h5 --resume --quiet >/dev/null \
    2>resume.err || fail "resume: $(cat resume.err)"
fi
h5diff --exclude-path /provenance r1t1.h5 term.h5 >diff-term 2>&1 &&
  pass "interrupted and resumed equals the uninterrupted run" || fail "resumed run differs: $(head -5 diff-term)"

# An array job's parts (a seed each) merged equal the single run.
run_ranks 1 1 run --config study.ini "${snap[@]}" --network.seeds 1 --out part1.h5 --quiet >/dev/null 2>&1
run_ranks 1 1 run --config study.ini "${snap[@]}" --network.seeds 2 --out part2.h5 --quiet >/dev/null 2>&1
run_single merge merged.h5 part1.h5 part2.h5 --quiet 2>err-merge || fail "merge: $(cat err-merge)"
h5diff --exclude-path /provenance r1t1.h5 merged.h5 >diff-merge 2>&1 &&
  pass "merged parts equal the single run" || fail "merged file differs: $(head -5 diff-merge)"

# The dry run's array bytes are the real run's.
"$ioca" run --config study.ini "${snap[@]}" --out r1t1.h5 --dry-run >dry.txt 2>&1 || fail "dry run: $(cat dry.txt)"
grep -qF "information plane over training: 3 snapshots per trained network (epochs 0, 1, 2)" dry.txt &&
  pass "the dry run lists the snapshots" || fail "dry run listing: $(cat dry.txt)"
estimated=$(sed -n 's/^  \([0-9,]*\) bytes of array values in \([0-9,]*\) arrays.*/\1 \2/p' dry.txt | tr -d ,)
actual=$(/usr/bin/python3 -c 'import sys, h5py; f = h5py.File(sys.argv[1], "r"); print(int(f.attrs["result_bytes"]), f["datasets/path"].shape[0])' r1t1.h5)
[ "$estimated" = "$actual" ] && pass "dry run: estimated array bytes and arrays equal the run's ($actual)" ||
  fail "dry run estimated '$estimated', the run holds '$actual'"

# Without snapshots: no training group, and no snapshot key in the config.
run_ranks 1 1 run --config study.ini --out plain.h5 --quiet >/dev/null 2>&1 || fail "study without snapshots"
/usr/bin/python3 - plain.h5 r1t1.h5 <<'PY' && pass "no snapshots: no training arrays, the config as before" || fail "a study without snapshots holds snapshot data or keys"
import sys, h5py
plain, snap = (h5py.File(p, "r") for p in sys.argv[1:])
paths = [p.decode() for p in plain["datasets/path"][:]]
assert not any(p.startswith("training/") for p in paths)
assert not any(p.decode().startswith("training") for p in plain["attributes/path"][:])
assert "snapshot" not in plain.attrs["study_config"]
assert any(p.decode().startswith("training/") for p in snap["datasets/path"][:])
assert "snapshots = 0, 1, 2\n" in snap.attrs["study_config"]
PY

# Bad snapshot keys: exit 2, one line, naming the key.
for bad in "--train.snapshots 0,3" "--train.snapshots 1,1" "--train.snapshots -1" "--train.snapshots x" \
  "--train.snapshot_bins 30" "--train.snapshots 1 --train.snapshot_bins 1" \
  "--train.snapshots 1 --train.kde_noise_variance 0" "--train.snapshots 1 --train.snapshot_binning fancy" \
  "--train.snapshots 1 --network.models $tmp/r1t1.h5"; do
  # shellcheck disable=SC2086
  expect_status 2 "run $bad" "$ioca" run --config study.ini $bad --out bad.h5
  grep -q -e "train.snapshot" -e "train.kde_noise_variance" "$tmp/err" && pass "the error names the key" ||
    fail "error for $bad: $(cat "$tmp/err")"
done
[ ! -e bad.h5 ] && pass "no file after a refused config" || fail "bad.h5 written"

finish "mpi snapshots"
