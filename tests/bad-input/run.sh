#!/usr/bin/env bash
# Bad input, end to end: generates broken data sets, model files, measures files and
# configs (into a temporary folder), runs the ioca command that reads each, and checks the
# contract of README.md: exit status 2 (bad input or usage), exactly one line on stderr
# naming the file (or the option) and the problem, no death by a signal (status > 128) or
# core dump, done within a time limit, and no output file (nor *.tmp.* file) left behind.
# Prints a table: case, command, status, message.
# Usage: tests/bad-input/run.sh path/to/ioca
# Needs /usr/bin/python3 with h5py and numpy. The full-disk and read-only cases mount small
# tmpfs file systems (root only; skipped with a message where mounting is not permitted).
set -uo pipefail
ioca=$(realpath "$1")
py=/usr/bin/python3
limit=${IOCA_BAD_INPUT_TIMEOUT:-120}  # seconds per command (sanitizer builds are slower)
# Under tests/sanitize.sh --e2e: what starts MPI is checked as in tests/e2e/lib.sh.
[ -z "${ASAN_OPTIONS:-}" ] || export LSAN_OPTIONS="suppressions=$(realpath "$(dirname "$0")/..")/\
sanitizers/lsan-mpi-libraries.supp:print_suppressions=0"
tmp=$(mktemp -d)
mounts=()
cleanup() {
  for m in "${mounts[@]}"; do umount "$m" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
cases=0
rows=()
mkdir -p "$tmp/work"
cd "$tmp/work" || exit 1  # commands run here: a core dump would land here

# check NAME STATUS MUST OUT CMD...: runs `ioca CMD...` and checks it. STATUS is the
# expected exit status; MUST a text the one stderr line must contain (the file's path, or
# the option's name; "" for none; "?TEXT": a known shortcoming, noted in the table but not
# failed); OUT an output path that must not exist afterwards ("-" for none; its folder is
# also checked for *.tmp.* files).
check() {
  local name=$1 want=$2 must=$3 out=$4
  shift 4
  cases=$((cases + 1))
  timeout -k 10 "$limit" "$ioca" "$@" >"$tmp/stdout" 2>"$tmp/stderr" </dev/null
  local got=$?
  local msg problems=()
  msg=$(head -c 400 "$tmp/stderr" | head -1)
  if [ "$got" -eq 124 ] || [ "$got" -eq 137 ]; then
    problems+=("timed out after ${limit} s")
  elif [ "$got" -gt 128 ]; then
    problems+=("killed by signal $((got - 128))")
  elif [ "$got" -ne "$want" ]; then
    problems+=("exit $got, wanted $want")
  fi
  local lines
  lines=$(wc -l <"$tmp/stderr")
  if [ "$want" -ne 0 ] && [ "$lines" -ne 1 ]; then
    problems+=("$lines lines on stderr")
  fi
  local note=""
  if [ "${must:0:1}" = "?" ]; then
    must=${must:1}
    grep -qF -- "$must" "$tmp/stderr" || note="known: does not name ${must//$tmp\//}"
  elif [ "$want" -ne 0 ] && [ -n "$must" ] && ! grep -qF -- "$must" "$tmp/stderr"; then
    problems+=("message does not name '$must'")
  fi
  if [ "$out" != "-" ] && [ "$want" -ne 0 ]; then
    [ -e "$out" ] && problems+=("left $out behind") && rm -f "$out"
    local dir
    dir=$(dirname "$out")
    if [ -d "$dir" ] && compgen -G "$dir/*.tmp.*" >/dev/null; then
      problems+=("left temporary files: $(cd "$dir" && echo *.tmp.*)")
      rm -f "$dir"/*.tmp.*
    fi
  fi
  if compgen -G "$tmp/work/core*" >/dev/null; then
    problems+=("core dump")
    rm -f "$tmp/work"/core*
  fi
  local verdict=ok
  [ -n "$note" ] && verdict="ok, $note"
  if ((${#problems[@]})); then
    verdict="FAIL: $(
      IFS=';'
      echo "${problems[*]}"
    )"
    failures=$((failures + 1))
    echo "FAIL $name: ${problems[*]}"
    sed 's/^/     | /' "$tmp/stderr" | head -8
  else
    echo "ok   $name"
  fi
  # Paths in the table are shown relative to the temporary folder. Fields are separated by
  # the ASCII unit separator (messages may hold '|').
  rows+=("$name"$'\x1f'"$1"$'\x1f'"$got"$'\x1f'"${msg//$tmp\//}"$'\x1f'"$verdict")
}

section() { echo "--- $1"; }

# ---------------------------------------------------------------------------------------
# Inputs that are valid: a small synthetic model, its measures, a second model.
syn=(--dataset synthetic --synthetic-samples 600 --synthetic-test-samples 200 --synthetic-features 16 --validation-size 100)
"$ioca" train "${syn[@]}" --hidden 8,6 --epochs 1 --quiet --out "$tmp/m.h5" >/dev/null 2>&1 &&
  "$ioca" measure --model "$tmp/m.h5" --out "$tmp/ms.h5" >/dev/null 2>&1 &&
  "$ioca" train "${syn[@]}" --hidden 8,6 --epochs 1 --seed 9 --quiet --out "$tmp/m2.h5" >/dev/null 2>&1 &&
  "$ioca" measure --model "$tmp/m2.h5" --out "$tmp/ms2.h5" >/dev/null 2>&1 || {
  echo "bad-input: cannot make the valid inputs (train/measure failed)"
  exit 1
}

# Everything broken is made by one Python script from those valid files.
$py - "$tmp" <<'PY' || { echo "bad-input: generating the inputs failed"; exit 1; }
import gzip, os, shutil, struct, sys
import h5py, numpy as np

t = sys.argv[1]

# --- IDX data sets: folders with the four MNIST files (20 train, 10 test images of 28x28).
def images(n, rows=28, cols=28, magic=0x803, count=None):
    return struct.pack(">IIII", magic, n if count is None else count, rows, cols) + bytes((i * 7) % 256 for i in range(n * rows * cols))

def labels(n, magic=0x801, body=None):
    return struct.pack(">II", magic, n) + (bytes(i % 10 for i in range(n)) if body is None else body)

def idx_set(name, **override):
    d = os.path.join(t, "idx", name)
    os.makedirs(d)
    files = {"train-images-idx3-ubyte": images(20), "train-labels-idx1-ubyte": labels(20),
             "t10k-images-idx3-ubyte": images(10), "t10k-labels-idx1-ubyte": labels(10)}
    files.update(override)
    for f, data in files.items():
        if data is not None:
            with open(os.path.join(d, f), "wb") as out:
                out.write(data)

idx_set("valid")
idx_set("truncated", **{"train-images-idx3-ubyte": images(20)[:-100]})
idx_set("oversized", **{"train-images-idx3-ubyte": images(20) + bytes(1000)})
idx_set("wrong-magic", **{"train-images-idx3-ubyte": b"PK\x03\x04" + images(20)[4:]})
idx_set("labels-file-as-images", **{"train-images-idx3-ubyte": labels(20)})
idx_set("count-mismatch", **{"train-labels-idx1-ubyte": labels(19)})
idx_set("label-out-of-range", **{"train-labels-idx1-ubyte": labels(20, body=bytes([3] * 19 + [10]))})
idx_set("absurd-count", **{"train-images-idx3-ubyte": images(20, count=0xFFFFFFFF)})
idx_set("overflowing-dims", **{"train-images-idx3-ubyte": struct.pack(">IIII", 0x803, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)})
idx_set("zero-images", **{"train-images-idx3-ubyte": images(0), "train-labels-idx1-ubyte": labels(0)})
idx_set("empty-file", **{"train-images-idx3-ubyte": b""})
idx_set("test-shape-differs", **{"t10k-images-idx3-ubyte": images(10, 14, 14)})
idx_set("missing-labels", **{"train-labels-idx1-ubyte": None})
idx_set("gzip-truncated", **{"train-images-idx3-ubyte": None,
                             "train-images-idx3-ubyte.gz": gzip.compress(images(20), mtime=0)[:-40]})
idx_set("gzip-garbage", **{"train-images-idx3-ubyte": None,
                           "train-images-idx3-ubyte.gz": b"\x1f\x8b" + bytes(range(200))})
idx_set("gzip-trailing-junk", **{"train-images-idx3-ubyte": None,
                                 "train-images-idx3-ubyte.gz": gzip.compress(images(20), mtime=0) + b"junk"})
os.makedirs(os.path.join(t, "idx", "dir-as-file", "train-images-idx3-ubyte"))
for f, data in {"train-labels-idx1-ubyte": labels(20), "t10k-images-idx3-ubyte": images(10),
                "t10k-labels-idx1-ubyte": labels(10)}.items():
    open(os.path.join(t, "idx", "dir-as-file", f), "wb").write(data)

# --- CIFAR-10: 5 training batches and a test batch of 2 records each.
def cifar(ys):
    return b"".join(bytes([y]) + bytes((j * 3 + y) % 256 for j in range(3072)) for y in ys)

def cifar_set(name, **override):
    d = os.path.join(t, "cifar", name)
    os.makedirs(d)
    files = {f"data_batch_{i}.bin": cifar([i % 10, (i + 3) % 10]) for i in range(1, 6)}
    files["test_batch.bin"] = cifar([1, 2])
    files.update(override)
    for f, data in files.items():
        if data is not None:
            open(os.path.join(d, f), "wb").write(data)

cifar_set("valid")
cifar_set("truncated", **{"data_batch_3.bin": cifar([1, 2])[:-1]})
cifar_set("label-out-of-range", **{"data_batch_2.bin": cifar([1, 11])})
cifar_set("missing-test", **{"test_batch.bin": None})
cifar_set("empty-batch", **{"data_batch_5.bin": b""})

# edited_copy(FOLDER, SOURCE, NAME, EDIT): FOLDER/NAME.h5, a copy of the valid SOURCE file
# with EDIT(h5py file) applied.
def edited_copy(folder, source, name, edit):
    p = os.path.join(t, folder, name + ".h5")
    shutil.copy(os.path.join(t, source), p)
    with h5py.File(p, "r+") as f:
        edit(f)

# --- Model files: copies of the valid model with one thing wrong.
os.makedirs(os.path.join(t, "models"))
def model(name, edit):
    edited_copy("models", "m.h5", name, edit)

def replace(f, path, data):
    del f[path]
    f[path] = data

def nan_weight(f):
    w = f["layers/1/weight"][()]; w[2, 3] = np.nan; f["layers/1/weight"][...] = w
def inf_bias(f):
    b = f["layers/0/bias"][()]; b[0] = np.inf; f["layers/0/bias"][...] = b
def missing_layer(f):
    f["layers"].move("1", "5")
def layer_attr(value):
    def edit(f):
        del f["layers/0"].attrs["activation"]
        f["layers/0"].attrs["activation"] = value
    return edit
def absurd_synthetic(f):
    f.attrs["synthetic_samples"] = np.int64(10**12)
def negative_features(f):
    f.attrs["synthetic_features"] = np.int64(-16)
def huge_classes(f):
    f.attrs["synthetic_classes"] = np.int64(2**40)

model("weights-do-not-chain", lambda f: replace(f, "layers/1/weight", np.ones((6, 7), np.float32)))
model("bias-wrong-shape", lambda f: replace(f, "layers/0/bias", np.ones(9, np.float32)))
model("weight-1d", lambda f: replace(f, "layers/0/weight", np.ones(8 * 16, np.float32)))
model("weight-integers", lambda f: replace(f, "layers/0/weight", np.ones((8, 16), np.int32)))
model("weight-strings", lambda f: replace(f, "layers/0/weight", np.array([b"a"] * 8)))
model("nan-weight", nan_weight)
model("inf-bias", inf_bias)
model("missing-layer", missing_layer)
model("no-layers", lambda f: f.__delitem__("layers"))
model("extra-entry", lambda f: f["layers"].create_group("head"))
model("missing-bias", lambda f: f.__delitem__("layers/2/bias"))
model("activation-integer", layer_attr(np.int64(1)))
model("activation-unknown", layer_attr("gelu"))
model("activation-two-strings", layer_attr(np.array([b"relu", b"tanh"])))
model("activation-missing", lambda f: f["layers/1"].attrs.__delitem__("activation"))
model("last-layer-relu", lambda f: f["layers/2"].attrs.__setitem__("activation", "relu"))
model("input-std-string", lambda f: f.attrs.__setitem__("input_std", "one"))
model("input-std-zero", lambda f: f.attrs.__setitem__("input_std", 0.0))
model("input-mean-nan", lambda f: f.attrs.__setitem__("input_mean", np.nan))
model("wrong-input-width", lambda f: (replace(f, "layers/0/weight", np.ones((8, 20), np.float32))))
model("dataset-attr-unknown", lambda f: f.attrs.__setitem__("dataset", "imagenet"))
model("absurd-synthetic-samples", absurd_synthetic)
model("negative-synthetic-features", negative_features)
model("absurd-synthetic-classes", huge_classes)
model("training-indices-negative", lambda f: f.create_dataset("training_indices", data=np.array([3, -2])))
model("training-indices-2d", lambda f: f.create_dataset("training_indices", data=np.zeros((2, 2), np.int64)))
model("training-indices-float", lambda f: f.create_dataset("training_indices", data=np.array([1.5])))
model("training-indices-beyond", lambda f: f.create_dataset("training_indices", data=np.array([1, 10**9])))
open(os.path.join(t, "models", "garbage.h5"), "w").write("not an HDF5 file\n")
open(os.path.join(t, "models", "empty.h5"), "w").close()
data = open(os.path.join(t, "m.h5"), "rb").read()
open(os.path.join(t, "models", "truncated.h5"), "wb").write(data[: len(data) // 2])
os.makedirs(os.path.join(t, "models", "folder.h5"))

# --- Measures files: copies of the valid measures with one thing wrong.
os.makedirs(os.path.join(t, "measures"))
def measures(name, edit):
    edited_copy("measures", "ms.h5", name, edit)
def nan_entropy(f):
    e = f["layers/0/entropy"][()]; e[1] = np.nan; f["layers/0/entropy"][...] = e
measures("nan-entropy", nan_entropy)
measures("short-quantity", lambda f: replace(f, "layers/0/mutual_information", np.zeros(7)))
measures("class-as-float", lambda f: replace(f, "layers/1/kl_selectivity_class", np.zeros(6)))
measures("no-fingerprint", lambda f: f.attrs.__delitem__("model_fingerprint"))
measures("missing-layer", lambda f: f.__delitem__("layers/1"))
measures("entropy-2d", lambda f: replace(f, "layers/0/entropy", np.zeros((8, 1))))
measures("pairs-short", lambda f: f.create_dataset("layers/0/pairs/first", data=np.zeros(3, np.int64)))
shutil.copy(os.path.join(t, "m.h5"), os.path.join(t, "measures", "a-model-file.h5"))

# --- Config files.
os.makedirs(os.path.join(t, "configs"))
configs = {
    "unknown-key": "epochs = 1\nbogus-key = 1\n",
    "section": "[train]\nepochs = 1\n",
    "negative-epochs": "epochs = -1\n",
    "absurd-epochs": "epochs = 99999999999999999999\n",
    "overflowing-lr": "lr = 1e400\n",
    "nan-lr": "lr = nan\n",
    "zero-width": "hidden = 16,0\n",
    "absurd-widths": "hidden = 1000000,1000000,1000000\n",
    "duplicate-key": "epochs = 1\nepochs = 2\n",
    "bad-bool": "quiet = maybe\n",
    "no-equals": "epochs\n",
    "binary": bytes(range(256)).decode("latin-1"),
    "placeholder-value": "epochs = aaaa%value%'aaaa\n",
    "placeholder-key": "%canonical_option% = 1\n",
    "measure-one-bin": "bins = 1\n",
    "measure-inf-threshold": "binning = binary\nthreshold = inf\n",
    "ablate-negative-random": "random = -1\n",
    "ablate-zero-chunk": "chunk-rows = 0\n",
    "evaluate-bad-split": "split = holdout\n",
}
for name, text in configs.items():
    open(os.path.join(t, "configs", name + ".ini"), "w", encoding="latin-1").write(text)
os.makedirs(os.path.join(t, "configs", "folder.ini"))
PY

m=$tmp/m.h5
ms=$tmp/ms.h5
ablate_fast=(--random 1 --no-single --by entropy --direction ascending --quiet)

section "IDX data sets (ioca train --dataset mnist)"
idx_train() {  # idx_train CASE MUST-NAME-FILE
  local d=$tmp/idx/$1
  check "idx-$1" 2 "$2" "$tmp/idx-out.h5" train --dataset mnist --data-dir "$d" --validation-size 5 \
    --hidden 4 --epochs 1 --quiet --out "$tmp/idx-out.h5"
}
check "idx-valid (control)" 0 "" - train --dataset mnist --data-dir "$tmp/idx/valid" --validation-size 5 \
  --hidden 4 --epochs 1 --quiet --out "$tmp/idx-valid.h5"
[ -s "$tmp/idx-valid.h5" ] || { echo "FAIL the valid IDX control wrote no model"; failures=$((failures + 1)); }
for c in truncated oversized wrong-magic labels-file-as-images absurd-count overflowing-dims \
  zero-images empty-file; do
  idx_train "$c" "idx/$c/train-images-idx3-ubyte"
done
idx_train count-mismatch "idx/count-mismatch/train-labels-idx1-ubyte"
idx_train label-out-of-range "idx/label-out-of-range/train-labels-idx1-ubyte"
idx_train test-shape-differs "idx/test-shape-differs/t10k-images-idx3-ubyte"
idx_train missing-labels "idx/missing-labels/train-labels-idx1-ubyte"
idx_train gzip-truncated "idx/gzip-truncated/train-images-idx3-ubyte.gz"
idx_train gzip-garbage "idx/gzip-garbage/train-images-idx3-ubyte.gz"
idx_train gzip-trailing-junk "idx/gzip-trailing-junk/train-images-idx3-ubyte.gz"
idx_train dir-as-file "idx/dir-as-file/train-images-idx3-ubyte"
check "idx-missing-data-dir" 2 "idx/nowhere" "$tmp/idx-out.h5" train --dataset mnist \
  --data-dir "$tmp/idx/nowhere" --quiet --out "$tmp/idx-out.h5"

section "CIFAR-10 batches (ioca train --dataset cifar10)"
cifar_train() {
  check "cifar-$1" "$2" "$3" "$tmp/cifar-out.h5" train --dataset cifar10 --data-dir "$tmp/cifar/$1" \
    --validation-size 2 --hidden 4 --epochs 1 --quiet --out "$tmp/cifar-out.h5"
}
cifar_train valid 0 ""
rm -f "$tmp/cifar-out.h5"
cifar_train truncated 2 "cifar/truncated/data_batch_3.bin"
cifar_train label-out-of-range 2 "cifar/label-out-of-range/data_batch_2.bin"
cifar_train missing-test 2 "cifar/missing-test/test_batch.bin"
cifar_train empty-batch 2 "cifar/empty-batch/data_batch_5.bin"

section "Model files (ioca evaluate / measure / ablate --model)"
for c in garbage empty truncated folder weights-do-not-chain bias-wrong-shape weight-1d \
  weight-integers weight-strings nan-weight inf-bias missing-layer no-layers extra-entry \
  missing-bias activation-integer activation-unknown activation-two-strings activation-missing \
  last-layer-relu input-std-string input-std-zero input-mean-nan wrong-input-width \
  dataset-attr-unknown absurd-synthetic-samples negative-synthetic-features absurd-synthetic-classes \
  training-indices-negative training-indices-2d training-indices-float training-indices-beyond; do
  f=$tmp/models/$c.h5
  case $c in
    garbage | empty | truncated | nan-weight | missing-layer | activation-unknown | input-std-string | dataset-attr-unknown | wrong-input-width | training-indices-negative)
      check "model-$c" 2 "$f" - evaluate --model "$f" ;;
    folder | weight-1d | inf-bias | no-layers | activation-integer | last-layer-relu | input-mean-nan | absurd-synthetic-samples | training-indices-2d)
      check "model-$c" 2 "$f" "$tmp/model-out.h5" measure --model "$f" --out "$tmp/model-out.h5" ;;
    *)
      check "model-$c" 2 "$f" "$tmp/model-out.h5" ablate --model "$f" "${ablate_fast[@]}" --measures "$ms" --out "$tmp/model-out.h5" ;;
  esac
done
check "model-missing" 2 "models/none.h5" - evaluate --model "$tmp/models/none.h5"

section "Measures files (ioca ablate --measures)"
check "measures-from-another-model" 2 "$tmp/ms2.h5" "$tmp/meas-out.h5" ablate --model "$m" --measures "$tmp/ms2.h5" \
  "${ablate_fast[@]}" --out "$tmp/meas-out.h5"
for c in nan-entropy short-quantity class-as-float no-fingerprint missing-layer entropy-2d pairs-short a-model-file; do
  f=$tmp/measures/$c.h5
  check "measures-$c" 2 "$f" "$tmp/meas-out.h5" ablate --model "$m" --measures "$f" "${ablate_fast[@]}" --out "$tmp/meas-out.h5"
done
check "measures-missing" 2 "measures/none.h5" "$tmp/meas-out.h5" ablate --model "$m" --measures "$tmp/measures/none.h5" \
  "${ablate_fast[@]}" --out "$tmp/meas-out.h5"

section "Config files (--config FILE)"
for c in unknown-key section negative-epochs absurd-epochs overflowing-lr nan-lr zero-width absurd-widths \
  duplicate-key bad-bool no-equals binary placeholder-value placeholder-key; do
  f=$tmp/configs/$c.ini
  check "config-$c" 2 "$f" "$tmp/cfg-out.h5" train "${syn[@]}" --config "$f" --out "$tmp/cfg-out.h5"
done
check "config-measure-one-bin" 2 "$tmp/configs/measure-one-bin.ini" "$tmp/cfg-out.h5" measure --model "$m" \
  --config "$tmp/configs/measure-one-bin.ini" --out "$tmp/cfg-out.h5"
check "config-measure-inf-threshold" 2 "$tmp/configs/measure-inf-threshold.ini" "$tmp/cfg-out.h5" measure --model "$m" \
  --config "$tmp/configs/measure-inf-threshold.ini" --out "$tmp/cfg-out.h5"
check "config-ablate-negative-random" 2 "$tmp/configs/ablate-negative-random.ini" "$tmp/cfg-out.h5" ablate --model "$m" \
  --measures "$ms" --config "$tmp/configs/ablate-negative-random.ini" --out "$tmp/cfg-out.h5"
check "config-ablate-zero-chunk" 2 "$tmp/configs/ablate-zero-chunk.ini" "$tmp/cfg-out.h5" ablate --model "$m" \
  --measures "$ms" --config "$tmp/configs/ablate-zero-chunk.ini" --out "$tmp/cfg-out.h5"
check "config-evaluate-bad-split" 2 "$tmp/configs/evaluate-bad-split.ini" - evaluate --model "$m" \
  --config "$tmp/configs/evaluate-bad-split.ini"
check "config-missing" 2 "configs/none.ini" "$tmp/cfg-out.h5" train "${syn[@]}" --config "$tmp/configs/none.ini" --out "$tmp/cfg-out.h5"
check "config-is-a-folder" 2 "configs/folder.ini" "$tmp/cfg-out.h5" train "${syn[@]}" --config "$tmp/configs/folder.ini" \
  --epochs 1 --quiet --out "$tmp/cfg-out.h5"

section "Absurd values on the command line"
check "cli-absurd-synthetic-size" 2 "--synthetic" "$tmp/cli-out.h5" train --dataset synthetic --synthetic-samples 100000000 \
  --synthetic-features 1000000 --quiet --out "$tmp/cli-out.h5"
check "cli-absurd-widths" 2 "--hidden" "$tmp/cli-out.h5" train "${syn[@]}" --hidden 1000000,1000000,1000000 --quiet --out "$tmp/cli-out.h5"
check "cli-negative-steps" 2 "--steps" "$tmp/cli-out.h5" ablate --model "$m" --measures "$ms" --steps -3 --out "$tmp/cli-out.h5"
check "cli-absurd-chunk-rows" 2 "--chunk-rows" "$tmp/cli-out.h5" ablate --model "$m" --measures "$ms" \
  --chunk-rows 99999999999 --out "$tmp/cli-out.h5"
check "cli-negative-memory-budget" 2 "--memory-budget" "$tmp/cli-out.h5" measure --model "$m" --memory-budget -1 \
  --out "$tmp/cli-out.h5"
check "cli-absurd-memory-budget" 2 "--memory-budget" "$tmp/cli-out.h5" ablate --model "$m" --measures "$ms" \
  --memory-budget 99999999999 --out "$tmp/cli-out.h5"
check "cli-too-many-bins" 2 "--bins" "$tmp/cli-out.h5" measure --model "$m" --bins 100001 --out "$tmp/cli-out.h5"
check "cli-pairs-too-many-bins" 2 "--pairs" "$tmp/cli-out.h5" measure --model "$m" --bins 70000 --pairs --out "$tmp/cli-out.h5"
check "cli-validation-too-large" 2 "validation size" "$tmp/cli-out.h5" train --dataset synthetic --synthetic-samples 600 \
  --synthetic-features 16 --validation-size 600 --quiet --out "$tmp/cli-out.h5"
check "cli-placeholder-value" 2 "--epochs" "$tmp/cli-out.h5" train "${syn[@]}" --epochs '%value%' --out "$tmp/cli-out.h5"

section "Output paths"
check "out-missing-folder" 2 "no/such/dir/m.h5" - train "${syn[@]}" --hidden 4 --epochs 1 --quiet --out "$tmp/no/such/dir/m.h5"
check "out-is-a-folder" 2 "$tmp/models/folder.h5" - measure --model "$m" --out "$tmp/models/folder.h5"
check "out-empty-path" 2 "output path" - ablate --model "$m" --measures "$ms" "${ablate_fast[@]}" --out ""
check "predictions-missing-folder" 2 "no/such/p.txt" - evaluate --model "$m" --predictions "$tmp/no/such/p.txt"
if mkdir -p "$tmp/ro" "$tmp/full" && mount -t tmpfs -o size=1m,ro tmpfs "$tmp/ro" 2>/dev/null; then
  mounts+=("$tmp/ro")
  check "out-read-only-fs" 2 "ro/a.h5" "$tmp/ro/a.h5" ablate --model "$m" --measures "$ms" "${ablate_fast[@]}" --out "$tmp/ro/a.h5"
  if mount -t tmpfs -o size=64k tmpfs "$tmp/full"; then
    mounts+=("$tmp/full")
    # Fill it up, leaving no free block.
    dd if=/dev/zero of="$tmp/full/filler" bs=4k 2>/dev/null
    check "out-full-disk-train" 2 "full/m.h5" "$tmp/full/m.h5" train "${syn[@]}" --hidden 8,6 --epochs 1 --quiet --out "$tmp/full/m.h5"
    check "out-full-disk-measure" 2 "full/ms.h5" "$tmp/full/ms.h5" measure --model "$m" --out "$tmp/full/ms.h5"
    check "out-full-disk-ablate" 2 "full/a.h5" "$tmp/full/a.h5" ablate --model "$m" --measures "$ms" "${ablate_fast[@]}" --out "$tmp/full/a.h5"
    check "out-full-disk-predictions" 2 "full/p.txt" "$tmp/full/p.txt" evaluate --model "$m" --predictions "$tmp/full/p.txt"
    # Almost full: room for the start of a file but not all of it.
    rm -f "$tmp/full/filler"
    dd if=/dev/zero of="$tmp/full/filler" bs=1k count=52 2>/dev/null
    check "out-nearly-full-disk-ablate" 2 "full/a.h5" "$tmp/full/a.h5" ablate --model "$m" --measures "$ms" --random 3 --quiet --out "$tmp/full/a.h5"
  fi
else
  echo "skip: cannot mount tmpfs here (not root, or not permitted): no read-only or full-disk cases"
fi

# ---------------------------------------------------------------------------------------
# `ioca run` (the study runner), when this ioca has it: bad study configs and a results
# file of another study given to --resume. Keys as in docs/study.md.
if "$ioca" run --help >/dev/null 2>&1; then
  section "Study runner (ioca run)"
  mkdir -p "$tmp/study"
  study() {  # study NAME TEXT: writes $tmp/study/NAME.ini
    printf '%s\n' "$2" >"$tmp/study/$1.ini"
  }
  base='name = bad
[data]
datasets = synthetic
validation_size = 100
[network]
hidden = 8
activations = relu
seeds = 1
[train]
epochs = 1
[ablation]
random = 1'
  study unknown-key "$base
bogus = 1"
  study unknown-section "$base
[nonsense]
x = 1"
  study negative-epochs "${base/epochs = 1/epochs = -1}"
  study unknown-dataset "${base/datasets = synthetic/datasets = imagenet}"
  study bad-architecture "${base/hidden = 8/hidden = 8xx4}"
  study absurd-bins "$base
[measure]
bins = 0"
  study negative-memory-budget "$base
[run]
memory_budget = -5"
  for c in unknown-key unknown-section negative-epochs unknown-dataset bad-architecture absurd-bins \
    negative-memory-budget; do
    check "run-config-$c" 2 "study/$c.ini" "$tmp/study/out.h5" run --config "$tmp/study/$c.ini" --quiet --out "$tmp/study/out.h5"
  done
  check "run-config-missing" 2 "study/none.ini" "$tmp/study/out.h5" run --config "$tmp/study/none.ini" --out "$tmp/study/out.h5"
  # A results file of another study given to --resume: refused, and left as it was.
  study one "$base"
  study two "${base/seeds = 1/seeds = 2}"
  if "$ioca" run --config "$tmp/study/one.ini" --quiet --out "$tmp/study/one.h5" >/dev/null 2>&1; then
    cp "$tmp/study/one.h5" "$tmp/study/one.copy.h5"
    check "run-resume-other-study" 2 "study/one.h5" - run --config "$tmp/study/two.ini" --resume --quiet --out "$tmp/study/one.h5"
    cmp -s "$tmp/study/one.h5" "$tmp/study/one.copy.h5" || {
      echo "FAIL run-resume-other-study changed the other study's results file"
      failures=$((failures + 1))
    }
    check "run-resume-model-file" 2 "m.h5" - run --config "$tmp/study/one.ini" --resume --quiet --out "$m"
    # Damaged results files (format 2) given to convert and merge: each names the file.
    damage() {  # damage NAME PYTHON: a copy of one.h5 edited by PYTHON (f is the h5py file)
      cp "$tmp/study/one.h5" "$tmp/study/$1.h5"
      "$py" -c "import h5py, numpy as np
with h5py.File('$tmp/study/$1.h5', 'r+') as f:
    $2" || echo "FAIL could not make $1"
    check "convert-$1" 2 "study/$1.h5" "$tmp/study/conv.h5" convert "$tmp/study/$1.h5" "$tmp/study/conv.h5" --quiet
    check "merge-$1" 2 "study/$1.h5" "$tmp/study/merged.h5" merge "$tmp/study/merged.h5" "$tmp/study/$1.h5" --quiet
  }
  damage results-no-task-table "del f['tasks/key']"
  damage results-short-column "del f['datasets/offset']; f['datasets/offset'] = np.zeros(3, dtype=np.int64)"
  damage results-offset-outside "o = f['tasks/offset'][:]; o[-1, 1] = 10**12; f['tasks/offset'][:] = o"
  damage results-negative-count "c = f['tasks/dataset_count'][:]; c[0] = -5; f['tasks/dataset_count'][:] = c"
  damage results-bad-type "t = f['datasets/type'][:]; t[0] = 7; f['datasets/type'][:] = t"
  damage results-changed-value "f['data/f64'][0] += 1"
  damage results-future-format "f.attrs['ioca_results_format'] = 3"
  damage results-variable-strings "k = [x.decode() for x in f['tasks/key'][:]]; del f['tasks/key']; f['tasks/key'] = k"
  printf 'not hdf5\n' >"$tmp/study/text.h5"
  check "convert-not-hdf5" 2 "study/text.h5" "$tmp/study/conv.h5" convert "$tmp/study/text.h5" "$tmp/study/conv.h5" --quiet
  check "convert-unknown-network" 2 "study/one.h5" "$tmp/study/conv.h5" convert "$tmp/study/one.h5" "$tmp/study/conv.h5" --networks nope --quiet
  check "convert-bad-format" 2 "--format" "$tmp/study/conv.h5" convert "$tmp/study/one.h5" "$tmp/study/conv.h5" --format 3 --quiet
  else
    echo "FAIL ioca run could not run the valid study $tmp/study/one.ini"
    failures=$((failures + 1))
  fi
fi

# ---------------------------------------------------------------------------------------
echo
echo "| case | command | status | message |"
echo "| --- | --- | --- | --- |"
for r in "${rows[@]}"; do
  IFS=$'\x1f' read -r name cmd status msg verdict <<<"$r"
  [ "$verdict" = ok ] || msg="$msg (${verdict#ok, })"
  echo "| $name | $cmd | $status | ${msg//|/\\|} |"
done
echo
if [ "$failures" -eq 0 ]; then
  echo "bad-input: all $cases cases passed"
else
  echo "bad-input: $failures of $cases cases failed"
fi
[ "$failures" -eq 0 ]
