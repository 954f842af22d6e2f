#!/usr/bin/env bash
# Measure settings and split seeds in ioca run (docs/study.md, "Measure settings" and
# "Split seeds"): a study with [measure] lists holds, per setting, exactly what standalone
# ioca measure --binning X --bins B + ioca ablate give; its first setting at the paths of a
# single-setting study, equal to that study; a single setting adds nothing; --dry-run counts
# the extra tasks and bytes; the same file on any ranks and threads. data.split_seeds
# changes the split of each network (as ioca train --split-seed) and records it.
# usage: settings.sh IOCA MPIEXEC
set -uo pipefail
ioca=$1 mpiexec=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
cd "$tmp"
py=/usr/bin/python3

# --- a model file, measured and ablated standalone under 4 settings
"$ioca" train --dataset synthetic --synthetic-samples 3000 --synthetic-test-samples "$test_samples" \
  --synthetic-features 32 --hidden 20,12 --activation relu --epochs 2 --seed 5 --out m.h5 --quiet >/dev/null
by=entropy,mutual_information,kl_selectivity,outgoing_l2,single_damage
for binning in uniform quantile; do
  for bins in 10 30; do
    "$ioca" measure --model m.h5 --binning $binning --bins $bins --out "ms-$binning-$bins.h5" 2>/dev/null ||
      fail "ioca measure --binning $binning --bins $bins"
    "$ioca" ablate --model m.h5 --measures "ms-$binning-$bins.h5" --by $by --random 3 \
      --out "ab-$binning-$bins.h5" --quiet >/dev/null || fail "ioca ablate ($binning $bins)"
  done
done
models_ini() {  # models_ini FILE BINNING BINS
  cat >"$1" <<INI
name = settings
[network]
models = $tmp/m.h5
[measure]
binning = $2
bins = $3
[ablation]
quantities = entropy, mutual_information, kl_selectivity, outgoing_l2, single_damage
random = 3
INI
}
models_ini multi.ini "uniform, quantile" "10, 30"
models_ini single.ini uniform 10

# --- dry run: 1 network, 3 scopes; 3 binned quantities x 4 settings + 2 others + random
expect_status 0 "dry run of the 4-setting study" "$ioca" run --config multi.ini --dry-run
cp out dry.txt
grep -qF "tasks: 46 = 1 prepare + 45 sweeps" dry.txt && pass "dry run counts 46 tasks" ||
  fail "dry run task count: $(grep tasks: dry.txt)"
grep -qF "measure settings: 4 (uniform-10-plugin, uniform-30-plugin, quantile-10-plugin, quantile-30-plugin)" dry.txt &&
  pass "dry run lists the settings" || fail "dry run settings line: $(grep -i setting dry.txt)"

run_ranks 2 1 run --config multi.ini --out multi.h5 --quiet 2>err-multi >/dev/null ||
  fail "4-setting study: $(cat err-multi)"
run_ranks 1 2 run --config multi.ini --out multi-1x2.h5 --quiet 2>/dev/null >/dev/null
h5diff --exclude-path /provenance multi.h5 multi-1x2.h5 >/dev/null 2>&1 &&
  pass "4-setting study: same file on 2 ranks x 1 thread and 1 rank x 2 threads" ||
  fail "4-setting study differs between rank/thread layouts"
run_ranks 2 1 run --config single.ini --out single.h5 --quiet 2>err-single >/dev/null ||
  fail "single-setting study: $(cat err-single)"

# The dry run's array bytes and task count are the real run's.
estimated=$(sed -n 's/^  \([0-9,]*\) bytes of array values in \([0-9,]*\) arrays.*/\1 \2/p' dry.txt | tr -d ,)
actual=$($py - multi.h5 <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    print(int(f.attrs["result_bytes"]), f["datasets/path"].shape[0])
PY
)
[ -n "$estimated" ] && [ "$estimated" = "$actual" ] && pass "dry run's array bytes are the real run's ($actual)" ||
  fail "dry run estimated '$estimated', the run holds '$actual'"
$py - multi.h5 single.h5 >attrs.txt 2>&1 <<'PY'
import sys, h5py
for path in sys.argv[1:]:
    with h5py.File(path, "r") as f:
        paths = [p.decode() for p in f["datasets/path"][:]]
        ms = f["networks/measure_settings"][:] if "measure_settings" in f["networks"] else None
        print(path, "tasks", f["tasks/key"].shape[0],
              "settings_paths", sum(p.startswith("settings/") for p in paths),
              "measure_settings", None if ms is None else ms[0].decode().rstrip("\0"),
              "split_seed_column", "split_seed" in f["networks"])
PY
grep -qF "multi.h5 tasks 46 settings_paths" attrs.txt && pass "the 4-setting file holds 46 tasks" ||
  fail "4-setting file: $(cat attrs.txt)"
grep -qF "measure_settings uniform-10-plugin,uniform-30-plugin,quantile-10-plugin,quantile-30-plugin" attrs.txt &&
  pass "network attribute measure_settings lists the 4 settings" || fail "measure_settings: $(cat attrs.txt)"
grep -qF "single.h5 tasks 19 settings_paths 0 measure_settings None split_seed_column False" attrs.txt &&
  pass "single-setting file: 19 tasks, no settings/ path, no measure_settings or split_seed" ||
  fail "single-setting file: $(cat attrs.txt)"

# --- every setting equals standalone measure + ablate of that setting (format 1, by path)
run_single convert multi.h5 multi-v1.h5 --format 1 --quiet && run_single convert single.h5 single-v1.h5 --format 1 --quiet ||
  fail "convert"
net=/networks/model0-m
same=1
for setting in uniform-10 uniform-30 quantile-10 quantile-30; do
  binning=${setting%-*} bins=${setting#*-}
  where=$net
  [ "$setting" = uniform-10 ] || where=$net/settings/$setting-plugin
  for l in 0 1; do
    for q in entropy mutual_information kl_selectivity kl_selectivity_class bins_used bin_low \
      selectivity_index outgoing_l2; do
      h5diff multi-v1.h5 "ms-$setting.h5" "$where/measures/layers/$l/$q" "/layers/$l/$q" >/dev/null 2>&1 ||
        { same=0; echo "differs: $setting measures $l/$q"; }
    done
  done
  h5dump -a "$where/measures/binning" multi-v1.h5 2>/dev/null | grep -q "\"$binning\"" ||
    { same=0; echo "binning attribute of $setting"; }
  for scope in layer0 layer1 network; do
    for q in entropy mutual_information kl_selectivity; do
      for dir in ascending descending; do
        for d in accuracy loss per_class_accuracy order ablated; do
          h5diff multi-v1.h5 "ab-$setting.h5" "$where/ablation/$scope/$q/$dir/$d" \
            "/ablation/$scope/$q/$dir/$d" >/dev/null 2>&1 || { same=0; echo "differs: $setting $scope/$q/$dir/$d"; }
        done
      done
    done
    # Quantities that do not depend on the binning, and random orders: once, at the default paths.
    for path in outgoing_l2/descending single_damage/ascending random; do
      h5diff multi-v1.h5 "ab-$setting.h5" "$net/ablation/$scope/$path/accuracy" \
        "/ablation/$scope/$path/accuracy" >/dev/null 2>&1 || { same=0; echo "differs: $setting $scope/$path"; }
    done
  done
done
((same)) && pass "every setting's measures and sweeps equal ioca measure --binning X --bins B + ioca ablate" ||
  fail "a setting differs from standalone measure + ablate"
h5ls -r multi-v1.h5 >tree.txt 2>&1 || fail "h5ls multi-v1.h5: $(head -3 tree.txt)"
grep -q "settings/uniform-30-plugin/ablation/layer0/entropy/ascending/accuracy" tree.txt &&
  ! grep -q "settings/[^/ ]*/ablation/[^/ ]*/\(outgoing_l2\|random\|single_damage\)\|settings/[^/ ]*/\(single_neuron\|model\)" tree.txt &&
  pass "binning-independent sweeps (and model, damage) are not repeated per setting" ||
  fail "settings/ holds the wrong things: $(grep settings/ tree.txt | head -5)"
grep -q "settings/quantile-30-plugin/information_plane/entropy" tree.txt &&
  pass "information plane per setting" || fail "no information plane per setting"
# The first setting sits where a study of it alone puts it, with the same values.
same=1
for g in measures ablation information_plane single_neuron model hidden_widths; do
  h5diff single-v1.h5 multi-v1.h5 "$net/$g" "$net/$g" >"diff-$g" 2>&1 ||
    { same=0; echo "first setting's $g differs from the single-setting study: $(head -3 "diff-$g")"; }
done
((same)) && pass "first setting's measures, sweeps, information plane equal the single-setting study's" ||
  fail "first setting differs from the single-setting study"

# The reader and the report see the settings (k of K columns).
PYTHONPATH=$here/../../analysis $py - multi.h5 single.h5 >reader.txt 2>&1 <<'PY'
import sys
from ioca_analysis.results import Results
from ioca_analysis import tables
with Results(sys.argv[1]) as r:
    net = r.networks[0]
    print("settings", ",".join(r.settings))
    v = net.in_setting("quantile-30-plugin")
    print("view", v.measure(0, "entropy").size, v.ordered("layer0", "entropy", "ascending") is not None,
          v.random("layer0") is not None)
    h = tables.settings_holds(r)
    print("K", len(h["settings"]), "gap rows", len(h["gap"]))
with Results(sys.argv[2]) as r:
    print("single", ",".join(r.settings), len(tables.settings_holds(r)["settings"]))
PY
grep -q "settings uniform-10-plugin,uniform-30-plugin,quantile-10-plugin,quantile-30-plugin" reader.txt &&
  grep -q "view 20 True True" reader.txt && grep -q "^K 4 gap rows" reader.txt &&
  grep -q "single uniform-10-plugin 1" reader.txt && pass "ioca_analysis reads the settings" ||
  fail "ioca_analysis: $(cat reader.txt)"

# --- bad [measure] lists
expect_status 2 "a bin count named twice" "$ioca" run --config multi.ini --measure.bins "10, 10" --dry-run
expect_status 2 "a bad bin count in the list" "$ioca" run --config multi.ini --measure.bins "10, x" --dry-run
# binary binning ignores bins: one setting per estimator, whatever the bins.
expect_status 0 "binary with two bin counts" "$ioca" run --config multi.ini --measure.binning "uniform, binary" \
  --measure.estimator "plugin, miller-madow" --dry-run
grep -qF "measure settings: 6 (uniform-10-plugin, uniform-10-miller-madow, uniform-30-plugin, uniform-30-miller-madow, binary-plugin, binary-miller-madow)" out &&
  pass "binary binning: one setting per estimator" || fail "binary settings: $(grep -i 'settings' out)"

# --- split seeds: per network, as ioca train --split-seed would split; recorded
study_config split.ini
sed -i 's/^activations = .*/activations = relu/' split.ini
run_ranks 2 1 run --config split.ini --data.split_seeds "5, 6" --out split.h5 --quiet 2>err-split >/dev/null ||
  fail "study with data.split_seeds: $(cat err-split)"
run_ranks 2 1 run --config split.ini --data.split_seeds seed --ablation.random 0 --ablation.quantities entropy \
  --out split-rule.h5 --quiet 2>err-rule >/dev/null || fail "study with data.split_seeds = seed: $(cat err-rule)"
"$ioca" train --dataset synthetic --synthetic-samples 3000 --synthetic-test-samples "$test_samples" --synthetic-features 32 \
  --validation-size 1000 --hidden 24,16 --activation relu --epochs 2 --seed 2 --split-seed 6 --out t26.h5 --quiet >/dev/null
"$ioca" train --dataset synthetic --synthetic-samples 3000 --synthetic-test-samples "$test_samples" --synthetic-features 32 \
  --validation-size 1000 --hidden 24,16 --activation relu --epochs 2 --seed 2 --split-seed 0 --out t20.h5 --quiet >/dev/null
run_single convert split.h5 split-v1.h5 --format 1 --quiet
h5diff split-v1.h5 t26.h5 /networks/synthetic-relu-24x16-s2/model/layers/0/weight /layers/0/weight >/dev/null 2>&1 &&
  pass "network of seed 2 with split seed 6 equals ioca train --seed 2 --split-seed 6" ||
  fail "the network of split seed 6 differs from ioca train --split-seed 6"
h5diff split-v1.h5 t20.h5 /networks/synthetic-relu-24x16-s2/model/layers/0/weight /layers/0/weight >/dev/null 2>&1 &&
  fail "split seed 6 gave the weights of split seed 0" || pass "the split seed changes the network"
$py - split.h5 split-rule.h5 >split.txt 2>&1 <<'PY'
import sys, h5py
for path in sys.argv[1:]:
    with h5py.File(path, "r") as f:
        print(path, list(f["networks/seed"][:]), list(f["networks/split_seed"][:]),
              "split_seeds =" in f.attrs["study_config"].decode()
              if isinstance(f.attrs["study_config"], bytes) else "split_seeds =" in f.attrs["study_config"])
PY
grep -qF "split.h5 [1, 2] [5, 6] True" split.txt && grep -qF "split-rule.h5 [1, 2] [1, 2] True" split.txt &&
  pass "split_seed recorded per network (list and 'seed' rule)" || fail "split seeds: $(cat split.txt)"
expect_status 2 "split_seeds of the wrong length" "$ioca" run --config split.ini --data.split_seeds "5" --dry-run
expect_status 2 "split_seed and split_seeds together" "$ioca" run --config split.ini --data.split_seed 3 \
  --data.split_seeds seed --dry-run
expect_status 2 "split_seeds with model files" "$ioca" run --config multi.ini --data.split_seeds seed --dry-run
finish "mpi settings"
