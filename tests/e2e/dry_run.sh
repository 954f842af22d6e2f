#!/usr/bin/env bash
# `ioca run --dry-run` on a small synthetic study: the listing of networks and tasks, quick,
# exit 0, no file written; its estimate of the results' array bytes equal to what a real run
# of the study stores; on 2 ranks only rank 0 prints; bad input still exit 2 and one line.
# usage: dry_run.sh IOCA MPIEXEC
set -uo pipefail
ioca=$1 mpiexec=$2
source "$(dirname "$0")/../mpi/lib.sh"
cd "$tmp"
# Two ranks under a time limit (a hang fails instead of stalling the suite).
two_ranks() {
  timeout 120 "$mpiexec" -q -n 2 --oversubscribe --bind-to none -x OMP_NUM_THREADS=1 \
    -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM "$ioca" "$@"
}

cat >study.ini <<INI
name = dry
[data]
datasets = synthetic
synthetic_samples = 3000
synthetic_test_samples = 1000
synthetic_features = 32
[network]
hidden = 16x8, 12
activations = relu, tanh
seeds = 1, 2, 3, 7
[train]
epochs = 2
[ablation]
quantities = entropy, mutual_information, single_damage
random = 3
steps = 5
INI
# 1 data set x 2 architectures x 2 activations x 4 seeds = 16 networks; per network scopes
# layer0, layer1, network (16x8) or layer0, network (12), each 3 quantities + random.
start=$(date +%s.%N)
expect_status 0 "run --dry-run" timeout 120 "$ioca" run --config study.ini --out r.h5 --dry-run
seconds=$(awk "BEGIN {printf \"%.1f\", $(date +%s.%N) - $start}")
cp out dry.txt
awk "BEGIN {exit !($seconds < 30)}" && pass "dry run took $seconds s (< 30)" || fail "dry run took $seconds s"
for want in "networks: 16 = 1 data set x 2 architectures x 2 activations x 4 seeds" \
  "architectures: 16x8, 12" "activations: relu, tanh" "seeds: 1-3, 7" \
  "data set synthetic: 32 features, 10 classes; 2,000 train / 1,000 validation / 1,000 test" \
  "tasks: 176 = 16 prepare + 160 sweeps" "sweeps by scope: layer0 64, layer1 32, network 64" \
  "results file: about" "load " "train " "measure " "single " "ablate " "write " "estimates" \
  "sbatch -n 1 " "jobs/study.sbatch study.ini r.h5"; do
  grep -qF -- "$want" dry.txt && pass "listing has '$want'" || fail "listing lacks '$want': $(cat dry.txt)"
done
[ -z "$(ls | grep -v -e '^study.ini$' -e '^dry.txt$' -e '^out$' -e '^err$')" ] &&
  pass "no file written" || fail "files written: $(ls)"

# The array bytes it announces are what the real run stores (format 2: result_bytes, and
# one /datasets row per array).
estimated=$(sed -n 's/^  \([0-9,]*\) bytes of array values in \([0-9,]*\) arrays.*/\1 \2/p' dry.txt | tr -d ,)
run_ranks 1 1 run --config study.ini --out real.h5 --quiet >/dev/null 2>err-real || fail "real run: $(cat err-real)"
actual=$(/usr/bin/python3 - real.h5 <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    print(int(f.attrs["result_bytes"]), f["datasets/path"].shape[0])
PY
)
[ -n "$estimated" ] && [ "$estimated" = "$actual" ] &&
  pass "estimated array bytes and arrays equal the real run's ($actual)" ||
  fail "estimated array bytes and arrays '$estimated', the real run holds '$actual'"
rm -f real.h5

# Without --out; on 2 ranks only rank 0 reports, and both ranks end.
expect_status 0 "--dry-run without --out, 2 ranks" two_ranks run --config study.ini --dry-run
[ "$(grep -c '^networks:' out)" -eq 1 ] && pass "2 ranks: one report" || fail "2 ranks: $(grep -c '^networks:' out) reports"
grep -qF "jobs/study.sbatch study.ini OUT" out && pass "sbatch line names OUT when --out is not given" ||
  fail "sbatch line without --out: $(grep sbatch out)"

# Bad input: exit 2 and one line, also with --dry-run.
sed 's/^hidden = .*/hidden = 16xx8/' study.ini >bad.ini
expect_status 2 "--dry-run of a bad architecture" "$ioca" run --config bad.ini --dry-run
grep -q "bad.ini" err && pass "the error names the config" || fail "error: $(cat err)"
sed 's/^datasets = .*/datasets = mnist/' study.ini >nodata.ini
expect_status 2 "--dry-run with a missing data folder" "$ioca" run --config nodata.ini --data.data_dir "$tmp/nowhere" --dry-run
expect_status 2 "--dry-run of a missing model file" "$ioca" run --network.models "$tmp/none.h5" --dry-run
expect_status 2 "--dry-run on 2 ranks, bad input" two_ranks run --config bad.ini --dry-run
expect_status 2 "run without --out or --dry-run" "$ioca" run --config study.ini
expect_status 0 "run --help" "$ioca" run --help
grep -qF -- "--dry-run" out && pass "run --help lists --dry-run" || fail "run --help lacks --dry-run"

finish "e2e dry run"
