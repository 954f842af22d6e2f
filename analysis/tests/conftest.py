"""Shared fixtures of the analysis tests: the ioca binary and a tiny MNIST-format data set.

The binary is $IOCA_BIN, else <repo>/build/ioca.  A missing binary is an error, not a
skip: these tests exist to check ioca against an independent implementation.
"""

import gzip
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ANALYSIS_DIR = Path(__file__).resolve().parents[1]
REPO_DIR = ANALYSIS_DIR.parent
sys.path.insert(0, str(ANALYSIS_DIR))  # so tests can `import export_torch`

TINY_TRAIN, TINY_TEST, TINY_VALIDATION = 200, 300, 50


@pytest.fixture(scope="session")
def ioca_bin():
    """Path of the ioca executable; fails the test clearly if it is not there."""
    path = Path(os.environ.get("IOCA_BIN", REPO_DIR / "build" / "ioca"))
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"ioca binary not found at {path}: build it (ninja -C build ioca) "
                    "or set IOCA_BIN", pytrace=False)
    return path


def write_idx_images(path, images):
    """Write uint8 images [n, rows, cols] as a big-endian IDX file (magic 0x00000803)."""
    n, rows, cols = images.shape
    with open(path, "wb") as f:
        f.write(struct.pack(">IIII", 0x00000803, n, rows, cols))
        f.write(np.ascontiguousarray(images, dtype=np.uint8).tobytes())


def write_idx_labels(path, labels):
    """Write uint8 labels [n] as a big-endian IDX file (magic 0x00000801)."""
    with open(path, "wb") as f:
        f.write(struct.pack(">II", 0x00000801, len(labels)))
        f.write(np.asarray(labels, dtype=np.uint8).tobytes())


@pytest.fixture(scope="session")
def tiny_mnist(tmp_path_factory):
    """A random MNIST-format data set: 200 train / 300 test 28x28 images, 10 classes.

    Returns a dict with the folder ("dir") and the test split as ioca sees it:
    "x" float64 [300, 784] in [0, 1] and "y" int [300].  The test label files are
    gzipped to exercise that path of the loader too.
    """
    rng = np.random.default_rng(20240611)
    folder = tmp_path_factory.mktemp("tiny_mnist")
    train_x = rng.integers(0, 256, size=(TINY_TRAIN, 28, 28), dtype=np.uint8)
    test_x = rng.integers(0, 256, size=(TINY_TEST, 28, 28), dtype=np.uint8)
    train_y = rng.integers(0, 10, size=TINY_TRAIN)
    test_y = rng.integers(0, 10, size=TINY_TEST)
    write_idx_images(folder / "train-images-idx3-ubyte", train_x)
    write_idx_labels(folder / "train-labels-idx1-ubyte", train_y)
    write_idx_images(folder / "t10k-images-idx3-ubyte", test_x)
    write_idx_labels(folder / "t10k-labels-idx1-ubyte.tmp", test_y)
    with open(folder / "t10k-labels-idx1-ubyte.tmp", "rb") as raw:
        with gzip.open(folder / "t10k-labels-idx1-ubyte.gz", "wb") as packed:
            packed.write(raw.read())
    os.remove(folder / "t10k-labels-idx1-ubyte.tmp")
    return {"dir": folder, "x": test_x.reshape(TINY_TEST, -1).astype(np.float64) / 255.0,
            "y": test_y}


class Evaluation:
    """Outcome of one `ioca evaluate` run."""

    def __init__(self, completed, predictions_path):
        self.returncode = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        self.result = json.loads(completed.stdout) if completed.returncode == 0 else None
        self.predictions = (np.loadtxt(predictions_path, dtype=np.int64, ndmin=1)
                            if completed.returncode == 0 else None)


@pytest.fixture
def evaluate(ioca_bin, tiny_mnist, tmp_path):
    """Run `ioca evaluate --json --predictions` on the tiny test split of a model file."""

    def run(model_path):
        predictions = tmp_path / "predictions.txt"
        command = [str(ioca_bin), "evaluate", "--model", str(model_path), "--dataset", "mnist",
                   "--data-dir", str(tiny_mnist["dir"]), "--validation-size", str(TINY_VALIDATION),
                   "--split", "test", "--predictions", str(predictions), "--json"]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=120)
        return Evaluation(completed, predictions)

    return run


@pytest.fixture(scope="module", params=[1, 2], ids=["format1", "format2"])
def version(request):
    """The results format a synthetic file is written in: every reader test runs on both."""
    return request.param
