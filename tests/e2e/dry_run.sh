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
# The stored study_config is a valid INI file for Python's configparser, every key under a
# section, numbers in their shortest exact text.
/usr/bin/python3 - real.h5 <<'PY' && pass "configparser reads study_config" || fail "configparser and study_config"
import configparser, sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    text = f.attrs["study_config"]
text = text.decode() if isinstance(text, bytes) else text
c = configparser.ConfigParser(interpolation=None)
c.read_string(text)
assert c.sections()[0] == "study" and c["study"]["name"] == "dry", c.sections()
assert c["network"]["hidden"] == "16x8, 12", c["network"]["hidden"]
assert c["data"]["synthetic_noise"] == "0.35", c["data"]["synthetic_noise"]
assert c["train"]["lr"] == "0.001" and c["train"]["momentum"] == "0.9", dict(c["train"])
assert c.getint("train", "epochs") == 2
PY
# A results file whose config an earlier ioca wrote (name before any section, 17-digit
# numbers) is the same study: --resume accepts it (complete: nothing to do); another lr not.
cp real.h5 old.h5
/usr/bin/python3 - old.h5 <<'PY' || fail "rewriting the config as an earlier ioca did"
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    text = f.attrs["study_config"]
    text = text.decode() if isinstance(text, bytes) else text
    assert text.startswith("[study]\nname = ")
    old = (text[len("[study]\n"):].replace("synthetic_noise = 0.35", "synthetic_noise = 0.34999999999999998")
           .replace("momentum = 0.9\n", "momentum = 0.90000000000000002\n"))
    assert old != text and "0.34999999999999998" in old and "0.90000000000000002" in old
    f.attrs["study_config"] = old
PY
expect_status 0 "--resume of a file whose config an earlier ioca wrote" run_ranks 1 1 run --config study.ini --out old.h5 --resume --quiet
expect_status 2 "--resume of it with another lr" run_ranks 1 1 run --config study.ini --out old.h5 --resume --quiet --train.lr 0.002
grep -q "different study config" err && pass "the error says the config differs" || fail "error: $(cat err)"
rm -f real.h5 old.h5

# network.hidden: one width syntax. A list of bare widths would read as one network's
# widths (ioca train --hidden 64,32): refused; 64x32 is that network, 64; 32 two networks.
for spelling in "64,32" "64, 128"; do
  expect_status 2 "study hidden = $spelling refused" "$ioca" run --config study.ini --network.hidden "$spelling" --dry-run
  grep -q -- "--network.hidden: '$spelling' is ambiguous" err && grep -q "x" err &&
    pass "the error says how to write it" || fail "error: $(cat err)"
done
expect_status 2 "';' and ',' mixed" "$ioca" run --config study.ini --network.hidden "64;32,16" --dry-run
expect_status 0 "study hidden = 12; 8 (two one-layer networks)" "$ioca" run --config study.ini --network.hidden "12; 8" --dry-run
grep -qF "architectures: 12; 8" out && grep -qF "networks: 16 = 1 data set x 2 architectures" out &&
  pass "12; 8 is two architectures" || fail "12; 8: $(grep -E 'architectures|networks:' out)"
expect_status 0 "study hidden = 12x8" "$ioca" run --config study.ini --network.hidden 12x8 --dry-run
grep -qF "networks: 8 = 1 data set x 1 architecture" out && pass "12x8 is one architecture" ||
  fail "12x8: $(grep networks: out)"

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
