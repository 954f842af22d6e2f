#!/usr/bin/python3
"""Writes the seed corpus of the fuzz targets into tests/fuzz/corpus/<target>/.

Small valid files and near-valid ones (one thing wrong each), deterministic bytes (no time
stamps), so the corpus can be committed and regenerated identically. Needs h5py and numpy
(Debian's python3-h5py, python3-numpy: run it with /usr/bin/python3).

Usage: tests/fuzz/make_corpus.py [corpus-folder]   (default: corpus/ beside this script)
"""
import gzip
import io
import os
import struct
import sys

import h5py
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus")


def put(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gz(data):
    return gzip.compress(data, compresslevel=6, mtime=0)


# --- IDX: fuzz_idx input = flags byte, u32le images length, images file, labels file.
def idx_images(n, rows, cols, magic=0x803, pixels=None):
    body = bytes((i * 37) % 256 for i in range(n * rows * cols)) if pixels is None else pixels
    return struct.pack(">IIII", magic, n, rows, cols) + body


def idx_labels(n, magic=0x801, labels=None):
    body = bytes(i % 10 for i in range(n)) if labels is None else labels
    return struct.pack(">II", magic, n) + body


def idx_input(images, labels, flags=0):
    return bytes([flags]) + struct.pack("<I", len(images)) + images + labels


img, lab = idx_images(3, 4, 4), idx_labels(3)
put("idx", "valid", idx_input(img, lab))
put("idx", "valid-28x28", idx_input(idx_images(2, 28, 28), idx_labels(2)))
put("idx", "valid-harness-gzips-both", idx_input(img, lab, flags=3))
put("idx", "valid-gzip-bytes", idx_input(gz(img), gz(lab)))
put("idx", "valid-gzip-two-members", idx_input(gz(img[:10]) + gz(img[10:]), lab))
put("idx", "gzip-trailing-junk", idx_input(gz(img) + b"junk", lab))
put("idx", "gzip-truncated", idx_input(gz(img)[:-9], lab))
put("idx", "truncated-images", idx_input(img[:-5], lab))
put("idx", "truncated-header", idx_input(img[:9], lab))
put("idx", "trailing-data", idx_input(img + b"\x00\x01", lab))
put("idx", "wrong-magic", idx_input(idx_images(3, 4, 4, magic=0x0803_0000), lab))
put("idx", "labels-as-images", idx_input(lab, img))
put("idx", "type-code-float", idx_input(idx_images(3, 4, 4, magic=0x0D03), lab))
put("idx", "count-mismatch", idx_input(img, idx_labels(2)))
put("idx", "label-out-of-range", idx_input(img, idx_labels(3, labels=b"\x01\x0a\x02")))
put("idx", "zero-images", idx_input(idx_images(0, 4, 4), idx_labels(0)))
put("idx", "huge-dims", idx_input(struct.pack(">IIII", 0x803, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), lab))
put("idx", "empty", idx_input(b"", b""))

# --- CIFAR-10: records of 1 label byte + 3072 pixel bytes.
def cifar(labels):
    out = bytearray()
    for r, y in enumerate(labels):
        out.append(y)
        out += bytes((r * 7 + j) % 256 for j in range(3072))
    return bytes(out)


put("cifar10", "valid-1", cifar([3]))
put("cifar10", "valid-2", cifar([0, 9]))
put("cifar10", "valid-gzip", gz(cifar([1, 2])))
put("cifar10", "truncated", cifar([4])[:-1])
put("cifar10", "extra-byte", cifar([4]) + b"\x00")
put("cifar10", "label-10", cifar([10]))
put("cifar10", "gzip-truncated", gz(cifar([1]))[:-5])
put("cifar10", "empty", b"")


# --- Model files (HDF5), written as PyTorch users would with h5py; no time stamps.
def model_bytes(widths=(4, 3, 2), acts=("relu", "identity"), fixed=False, mean_std=True,
                edit=None):
    bio = io.BytesIO()
    with h5py.File(bio, "w", libver="earliest", track_order=False) as f:
        rng = np.random.default_rng(1)
        layers = f.create_group("layers")
        for k in range(len(widths) - 1):
            g = layers.create_group(str(k))
            g.create_dataset("weight", data=rng.standard_normal((widths[k + 1], widths[k])).astype(np.float32),
                             track_times=False)
            g.create_dataset("bias", data=np.zeros(widths[k + 1], np.float32), track_times=False)
            if fixed:
                g.attrs.create("activation", np.bytes_(acts[k]), dtype=h5py.string_dtype("ascii", len(acts[k])))
            else:
                g.attrs["activation"] = acts[k]
        if mean_std:
            f.attrs["input_mean"] = 0.1307
            f.attrs["input_std"] = 0.3081
        f.attrs["ioca_model_format"] = np.int64(1)
        f.attrs["dataset"] = "synthetic"
        if edit:
            edit(f)
    return bio.getvalue()


def set_nan(f):
    w = f["layers/0/weight"][()]
    w[0, 0] = np.nan
    f["layers/0/weight"][...] = w


def wrong_bias(f):
    del f["layers/1/bias"]
    f["layers/1"].create_dataset("bias", data=np.zeros(5, np.float32), track_times=False)


def int_weight(f):
    del f["layers/0/weight"]
    f["layers/0"].create_dataset("weight", data=np.ones((3, 4), np.int32), track_times=False)


def numeric_activation(f):
    f["layers/0"].attrs["activation"] = np.int64(3)


def missing_layer(f):
    f["layers"].move("1", "2")


def string_input_std(f):
    f.attrs["input_std"] = "one"


def zero_input_std(f):
    f.attrs["input_std"] = 0.0


def weight_3d(f):
    del f["layers/0/weight"]
    f["layers/0"].create_dataset("weight", data=np.ones((3, 4, 1), np.float32), track_times=False)


put("model", "valid", model_bytes())
put("model", "valid-fixed-strings", model_bytes(fixed=True))
put("model", "valid-no-mean-std", model_bytes(mean_std=False))
put("model", "valid-3-layers", model_bytes(widths=(5, 4, 3, 2), acts=("tanh", "sigmoid", "identity")))
put("model", "nan-weight", model_bytes(edit=set_nan))
put("model", "bias-wrong-shape", model_bytes(edit=wrong_bias))
put("model", "integer-weights", model_bytes(edit=int_weight))
put("model", "numeric-activation", model_bytes(edit=numeric_activation))
put("model", "missing-layer-1", model_bytes(edit=missing_layer))
put("model", "string-input-std", model_bytes(edit=string_input_std))
put("model", "zero-input-std", model_bytes(edit=zero_input_std))
put("model", "weight-3d", model_bytes(edit=weight_3d))
put("model", "shapes-do-not-chain", model_bytes(widths=(4, 3, 2), edit=lambda f: (
    f["layers/1"].__delitem__("weight"),
    f["layers/1"].create_dataset("weight", data=np.ones((2, 5), np.float32), track_times=False))))
put("model", "last-layer-relu", model_bytes(acts=("relu", "relu")))
put("model", "truncated", model_bytes()[:1500])
put("model", "not-hdf5", b"garbage\n")

# --- INI configs (the --config FILE of every command).
configs = {
    "train": b"dataset = synthetic\nsynthetic-samples = 2000\nsynthetic-features = 16\n"
             b"hidden = 20,10\nactivation = tanh\nepochs = 1\nbatch-size = 32\nlr = 0.001\n"
             b"optimizer = sgd\nmomentum = 0.9\nweight-decay = 0\nseed = 3\nout = m.h5\nquiet = true\n",
    "evaluate": b"# evaluate\nmodel = m.h5\nsplit = validation\njson = true\npredictions = p.txt\n",
    "measure": b"model = m.h5\nbinning = quantile\nbins = 30\nzero-bin = true\nthreshold = 0.5\n"
               b"estimator = miller-madow\nsave-histograms = 1\nprint = yes\nout = ms.h5\n",
    "ablate": b"model = m.h5\nmeasures = ms.h5\nscope = layer0,network\nby = entropy,single_damage\n"
              b"direction = descending\nrandom = 2\nseed = 5\nablate-to = mean\nsteps = 4\n"
              b"no-single = true\nengine = naive\nchunk-rows = 64\nout = a.h5\n",
    "unknown-key": b"epochs = 1\nbogus-key = 1\n",
    "section": b"[train]\nepochs = 1\n",
    "duplicate-key": b"epochs = 1\nepochs = 2\n",
    "negative": b"epochs = -1\nvalidation-size = -5\nsynthetic-samples = -3\n",
    "absurd": b"epochs = 99999999999999999999\nlr = 1e400\nbins = 2147483648\nhidden = 1000001\n",
    "not-numbers": b"epochs = ten\nlr = fast\nsynthetic-noise = nan\n",
    "no-equals": b"epochs\n",
    "empty-value": b"hidden =\nscope = ,\nby = entropy,,kl_selectivity\n",
    "bad-bool": b"quiet = maybe\n",
    "help-key": b"help = 1\n",
    "config-key": b"config = other.ini\n",
    "binary": bytes(range(256)),
}
for name, text in configs.items():
    put("config", name, text)

# --- fuzz_model_struct reads its input through FuzzedDataProvider: any bytes are a model
# description; a few varied ones to start from.
for i in range(4):
    put("model_struct", f"seed-{i}", bytes((i * 31 + j * 17 + (j * j) % 7) % 256 for j in range(48 + 16 * i)))
