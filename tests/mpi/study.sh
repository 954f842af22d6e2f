#!/usr/bin/env bash
# ioca run on MPI: results independent of ranks and threads, model-file studies equal to
# standalone measure + ablate, and errors that end every rank with one message.
# usage: study.sh IOCA MPIEXEC
# IOCA_TEST_LAYOUTS: the ranks x threads compared with 1 x 1, as "RANKS THREADS" pairs
# separated by commas (default "1 2,2 1,3 1,2 2"). tests/sanitize.sh runs "3 1,2 2" under the
# sanitizers: every rank of several ranks, and threads, each checked; the plain run compares
# all layouts.
set -uo pipefail
ioca=$1 mpiexec=$2
source "$(dirname "$0")/lib.sh"
cd "$tmp"
study_config study.ini

# --- the same study on 1, 2 and 3 ranks and 1 and 2 threads: identical outside /provenance
IFS=, read -r -a layouts <<<"${IOCA_TEST_LAYOUTS:-1 2,2 1,3 1,2 2}"
# 3 x 1 always: the checks of a finished multi-rank file below read it.
[[ ",${IOCA_TEST_LAYOUTS:-3 1}," == *",3 1,"* ]] || layouts+=("3 1")
for setup in "1 1" "${layouts[@]}"; do
  read -r ranks threads <<<"$setup"
  # Under the sanitizers, the 3-rank run with the full allocation stacks (tests/e2e/lib.sh).
  check=()
  [ "$setup" != "3 1" ] || check=(full_leak_stacks)
  if "${check[@]}" run_ranks "$ranks" "$threads" run --config study.ini \
    --out "r${ranks}t${threads}.h5" --quiet >/dev/null 2>"err-$ranks-$threads"; then
    pass "study on $ranks ranks x $threads threads"
  else
    fail "study on $ranks ranks x $threads threads: $(cat "err-$ranks-$threads")"
  fi
done
# OpenMP giving fewer threads than asked (the tasks' worker threads and the measures'
# per-thread histograms must cope with a team of one).
if OMP_THREAD_LIMIT=1 "$mpiexec" -q -n 2 --oversubscribe --bind-to none -x OMP_NUM_THREADS=2 \
  -x OMP_THREAD_LIMIT -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM "$ioca" run \
  --config study.ini --out limit.h5 --quiet >/dev/null 2>err-limit; then
  pass "study on 2 ranks x 2 threads with OMP_THREAD_LIMIT=1"
else
  fail "study with OMP_THREAD_LIMIT=1: $(cat err-limit)"
fi
compared=()
for setup in "${layouts[@]}"; do
  read -r ranks threads <<<"$setup"
  compared+=("r${ranks}t${threads}")
done
for f in "${compared[@]}" limit; do
  if h5diff --exclude-path /provenance r1t1.h5 "$f.h5" >"diff-$f" 2>&1; then
    pass "h5diff r1t1 $f: identical outside /provenance"
  else
    fail "h5diff r1t1 $f: $(head -5 "diff-$f")"
  fi
done
[ "$(h5dump -a /provenance/ranks r3t1.h5 | grep -c '(0): 3')" -eq 1 ] && pass "provenance records 3 ranks" ||
  fail "provenance does not record 3 ranks"
h5dump -a /complete r3t1.h5 | grep -q '(0): 1' && pass "results file marked complete" ||
  fail "results file not marked complete"
[ ! -e r3t1.h5.checkpoint ] && pass "no checkpoint left after a complete run" || fail "checkpoint left behind"

# --- an array job's parts (one seed each) merged equal the single run over both seeds
run_ranks 1 1 run --config study.ini --network.seeds 2 --out part2.h5 --quiet >/dev/null 2>&1
run_ranks 2 1 run --config study.ini --network.seeds 1 --out part1.h5 --quiet >/dev/null 2>&1
run_single merge merged.h5 part1.h5 part2.h5 --quiet 2>err-merge || fail "merge: $(cat err-merge)"
h5diff --exclude-path /provenance r1t1.h5 merged.h5 >diff-merge 2>&1 &&
  pass "merged parts equal the single run of both seeds" || fail "merged file differs: $(head -5 diff-merge)"
# Files of format 1 (earlier ioca versions) merge too, and convert both ways without loss.
run_single convert part1.h5 part1-v1.h5 --format 1 --quiet && run_single merge merged-v1.h5 part1-v1.h5 part2.h5 --quiet &&
  h5diff --exclude-path /provenance r1t1.h5 merged-v1.h5 >/dev/null 2>&1 &&
  pass "a format-1 part merges with a format-2 part into the same file" || fail "merging a format-1 part"
run_single convert r1t1.h5 v1.h5 --format 1 --quiet && run_single convert v1.h5 v2.h5 --quiet &&
  h5diff --exclude-path /provenance r1t1.h5 v2.h5 >/dev/null 2>&1 &&
  h5dump -a /ioca_results_format v1.h5 | grep -q '(0): 1' &&
  pass "convert to format 1 and back gives the same file" || fail "convert round trip differs"
expect_status 2 "merge refuses overlapping files" run_single merge m2.h5 part1.h5 r1t1.h5
run_ranks 1 1 run --config study.ini --network.seeds 3 --train.epochs 1 --out other.h5 --quiet >/dev/null 2>&1
expect_status 2 "merge refuses files of another study" run_single merge m3.h5 part1.h5 other.h5
[ ! -e m2.h5 ] && [ ! -e m3.h5 ] && pass "no merged file after a refusal" || fail "merged file left after refusal"

# --- networks given as model files reproduce standalone ioca measure + ioca ablate
"$ioca" train --dataset synthetic --synthetic-samples 3000 --synthetic-test-samples "$test_samples" \
  --synthetic-features 32 --hidden 20,12 --activation tanh --epochs 2 --seed 5 --out m.h5 --quiet >/dev/null
"$ioca" measure --model m.h5 --out ms.h5 2>/dev/null
"$ioca" ablate --model m.h5 --measures ms.h5 --by entropy,mutual_information,single_damage \
  --random 3 --out ab.h5 --quiet >/dev/null
cat >models.ini <<INI
name = models
[network]
models = $tmp/m.h5
[ablation]
quantities = entropy, mutual_information, single_damage
random = 3
INI
run_ranks 2 1 run --config models.ini --out models.h5 --quiet 2>err-models >/dev/null ||
  fail "model-file study: $(cat err-models)"
# Compared in the nested layout of format 1 (ioca convert), dataset by dataset.
run_single convert models.h5 models-v1.h5 --format 1 --quiet 2>err-convert || fail "convert: $(cat err-convert)"
net=/networks/model0-m
same=1
for path in layers/0/entropy layers/1/mutual_information layers/0/kl_selectivity \
  layers/1/selectivity_index layers/0/outgoing_l1; do
  h5diff models-v1.h5 ms.h5 "$net/measures/$path" "/$path" >/dev/null 2>&1 || { same=0; echo "differs: $path"; }
done
for path in layer0/entropy/ascending layer1/mutual_information/descending \
  network/single_damage/ascending network/entropy/descending layer0/random layer1/random; do
  for d in accuracy loss per_class_accuracy order ablated; do
    h5diff models-v1.h5 ab.h5 "$net/ablation/$path/$d" "/ablation/$path/$d" >/dev/null 2>&1 ||
      { same=0; echo "differs: $path/$d"; }
  done
done
for l in 0 1; do
  for d in accuracy_drop loss_increase; do
    h5diff models-v1.h5 ab.h5 "$net/single_neuron/layers/$l/$d" "/single_neuron/layers/$l/$d" \
      >/dev/null 2>&1 || { same=0; echo "differs: single $l $d"; }
  done
done
h5diff models-v1.h5 m.h5 "$net/model/layers/0/weight" /layers/0/weight >/dev/null 2>&1 || same=0
# The tie counts of the orders, attributes of each order's group, agree too.
/usr/bin/python3 - models-v1.h5 ab.h5 <<'PY' || { same=0; echo "differs: tied"; }
import sys, h5py
study, ablate = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
found = []
def visit(name, obj):
    if "tied" in obj.attrs:
        assert study["networks/model0-m/ablation/" + name].attrs["tied"] == obj.attrs["tied"], name
        found.append(name)
ablate["ablation"].visititems(visit)
assert len(found) == 18, found  # 3 scopes x 3 quantities x 2 directions
PY
((same)) && pass "model-file study equals standalone measure + ablate" ||
  fail "model-file study differs from standalone measure + ablate"

# --- errors end every rank, with one message and status 2
printf 'not hdf5\n' >bad.h5
cat >bad-model.ini <<INI
[network]
models = $tmp/bad.h5
INI
expect_status 2 "bad model file on 2 ranks" timeout 60 "$mpiexec" -q -n 2 --oversubscribe \
  "$ioca" run --config bad-model.ini --out x.h5 --quiet
grep -q "bad.h5" "$tmp/err" && pass "the error names the bad model file" || fail "error does not name the file"
expect_status 2 "unknown config key" timeout 60 "$mpiexec" -q -n 2 --oversubscribe \
  "$ioca" run --config study.ini --train.epochz 3 --out x.h5 --quiet
# A data set whose files are missing: one rank fails inside a task while the other trains.
study_config missing.ini
sed -i 's/^datasets = synthetic/datasets = synthetic, cifar10/' missing.ini
expect_status 2 "a task failing on one rank ends every rank" timeout 120 "$mpiexec" -q -n 2 \
  --oversubscribe "$ioca" run --config missing.ini --data.data_dir "$tmp/nodata" --out miss.h5 --quiet
[ ! -e miss.h5 ] && pass "no results file after the error" || fail "results file left after error"
expect_status 2 "existing output is not overwritten without --force" \
  "$mpiexec" -q -n 1 "$ioca" run --config study.ini --out r1t1.h5 --quiet
# A study whose results cannot fit where they should go fails before computing.
mkdir -p small
if mount -t tmpfs -o size=1m tmpfs small 2>/dev/null; then
  start=$SECONDS
  expect_status 2 "results that cannot fit fail before computing" run_ranks 2 1 run \
    --config study.ini --network.seeds 1,2,3,4,5,6,7,8 --network.hidden 512x512 --out small/x.h5 --quiet
  grep -q "not enough free space" "$tmp/err" && ((SECONDS - start < 20)) &&
    pass "the error says so, at once" || fail "no early space check: $(cat "$tmp/err")"
  [ -z "$(ls small)" ] && pass "nothing written to the full folder" || fail "files left: $(ls small)"
  umount small
else
  echo "skip space check (cannot mount a tmpfs here)"
fi
finish "mpi study"
