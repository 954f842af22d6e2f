"""PyTorch reference for ioca's training-throughput benchmark (see train_throughput.sh).

Trains the network `ioca train` trains by default, the same way: MNIST, 784-200-200-10
with ReLU (or --activation tanh), Adam (lr 1e-3), mini-batches of 32, one pass over a 50,000-sample train split
per epoch, 2 threads.  Like ioca's per-epoch timer, an epoch's time covers the shuffle,
gathering each batch, forward, loss, backward and the optimizer step (plus summing the
loss and counting correct predictions, which ioca also does).

Per-epoch lines go to stderr; the last stdout line is one JSON object:
  {"framework": "pytorch", "samples_per_second": <median over epochs>,
   "seconds_per_epoch": <median>, "threads": 2, "torch_version": ...}

Which BLAS runs torch's GEMMs is checked, not assumed: Debian's python3-torch links
libblas.so.3, which is the slow reference BLAS unless libopenblas0-pthread is installed
(setup.sh installs it; Debian's alternatives then select OpenBLAS). The script finds the
library that torch's sgemm_ resolves to and refuses to run (exit 3) unless it is OpenBLAS;
threadpoolctl reports OpenBLAS's version, core type and threading layer. OpenBLAS picks
its kernel for this CPU itself unless OPENBLAS_CORETYPE is set (train_throughput.sh
clears it unless --openblas-coretype is given).

Settings that make the reference as fast as this torch build allows (Debian's
python3-torch 1.13), measured on 2 cores:
* OPENBLAS_NUM_THREADS=1: OpenBLAS otherwise starts its own pool of 2 threads, which
  fights torch's 2 OpenMP threads for the 2 cores; that made training 2-4x slower.
  torch's own threads (--threads, default 2) still run everything outside the GEMMs.
* Adam(foreach=True): the default per-tensor loop of torch 1.13 spends ~3.5 ms per step
  on the optimizer for this network, ~6x the multi-tensor path (--no-foreach to compare).
"""

import argparse
import ctypes
import gzip
import json
import os
import statistics
import struct
import sys
import time
from pathlib import Path

import numpy as np

REPO_DIR = Path(__file__).resolve().parents[2]
SIZES = (784, 200, 200, 10)


def default_data_dir():
    """$IOCA_DATA/mnist, else <repo>/data/mnist (where setup.sh puts it)."""
    root = os.environ.get("IOCA_DATA")
    return Path(root) / "mnist" if root else REPO_DIR / "data" / "mnist"


def open_idx(folder, name):
    """Open folder/name, or folder/name.gz."""
    path = Path(folder) / name
    if path.exists():
        return open(path, "rb")
    if path.with_name(name + ".gz").exists():
        return gzip.open(path.with_name(name + ".gz"), "rb")
    raise FileNotFoundError(f"{path} (or .gz) not found; run setup.sh or pass --data-dir")


def read_idx_images(folder, name):
    """uint8 images of an IDX file (magic 0x00000803), flattened to [n, rows*cols]."""
    with open_idx(folder, name) as f:
        magic, n, rows, cols = struct.unpack(">IIII", f.read(16))
        if magic != 0x00000803:
            raise ValueError(f"{name}: bad magic {magic:#010x}")
        return np.frombuffer(f.read(n * rows * cols), dtype=np.uint8).reshape(n, rows * cols)


def read_idx_labels(folder, name):
    """uint8 labels of an IDX file (magic 0x00000801)."""
    with open_idx(folder, name) as f:
        magic, n = struct.unpack(">II", f.read(8))
        if magic != 0x00000801:
            raise ValueError(f"{name}: bad magic {magic:#010x}")
        return np.frombuffer(f.read(n), dtype=np.uint8)


def load_train_split(torch, folder, samples):
    """The first `samples` training images as float32 [0, 1] and int64 labels."""
    images = read_idx_images(folder, "train-images-idx3-ubyte")
    labels = read_idx_labels(folder, "train-labels-idx1-ubyte")
    if samples > len(images):
        raise ValueError(f"--train-samples {samples} exceeds the {len(images)} training images")
    x = torch.from_numpy(images[:samples].astype(np.float32) / 255.0)
    y = torch.from_numpy(labels[:samples].astype(np.int64))
    return x, y


def make_model(torch, activation):
    """784-200-200-10 MLP with ReLU or tanh hidden layers."""
    nn = torch.nn
    act = {"relu": nn.ReLU, "tanh": nn.Tanh}[activation]
    return nn.Sequential(nn.Linear(SIZES[0], SIZES[1]), act(), nn.Linear(SIZES[1], SIZES[2]),
                         act(), nn.Linear(SIZES[2], SIZES[3]))


def make_optimizer(torch, model, lr, foreach):
    """Adam; foreach=True selects torch's multi-tensor implementation."""
    return torch.optim.Adam(model.parameters(), lr=lr, foreach=foreach)


def train_epoch(torch, model, optimizer, x, y, batch_size, generator):
    """One shuffled pass over (x, y); returns (seconds, mean loss, accuracy)."""
    loss_fn = torch.nn.CrossEntropyLoss(reduction="sum")
    n = len(x)
    start = time.perf_counter()
    order = torch.randperm(n, generator=generator)
    loss_sum = torch.zeros((), dtype=torch.float64)
    correct = torch.zeros((), dtype=torch.int64)
    for lo in range(0, n, batch_size):
        index = order[lo:lo + batch_size]
        xb, yb = x.index_select(0, index), y.index_select(0, index)
        logits = model(xb)
        loss = loss_fn(logits, yb)
        optimizer.zero_grad(set_to_none=True)
        (loss / len(index)).backward()
        optimizer.step()
        with torch.no_grad():
            loss_sum += loss.detach()
            correct += (logits.argmax(dim=1) == yb).sum()
    seconds = time.perf_counter() - start
    return seconds, loss_sum.item() / n, correct.item() / n


class BlasError(RuntimeError):
    """torch's GEMMs do not run on OpenBLAS."""


class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def sgemm_library(torch):
    """Real path of the shared library whose sgemm_ torch's CPU library calls.

    dlsym on libtorch_cpu's handle searches its dependencies in the order the dynamic
    linker resolves them, so this is the sgemm_ torch uses (threadpoolctl alone cannot tell:
    liblapack can load OpenBLAS next to a reference libblas.so.3 that serves the GEMMs)."""
    lib_dir = Path(torch.__file__).resolve().parent / "lib"
    torch_cpu = ctypes.CDLL(str(lib_dir / "libtorch_cpu.so"), mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
    try:
        address = ctypes.cast(torch_cpu.sgemm_, ctypes.c_void_p).value
    except AttributeError:
        raise BlasError("libtorch_cpu.so resolves no sgemm_ (a torch build without BLAS?)") from None
    libc = ctypes.CDLL(None)
    libc.dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)]
    info = _DlInfo()
    if not libc.dladdr(ctypes.c_void_p(address), ctypes.byref(info)) or not info.dli_fname:
        raise BlasError("cannot tell which library provides torch's sgemm_ (dladdr failed)")
    return os.path.realpath(info.dli_fname.decode())


def check_blas(torch):
    """The OpenBLAS that runs torch's GEMMs, as a dict; raises BlasError otherwise."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        raise BlasError("threadpoolctl is missing: apt-get install python3-threadpoolctl "
                        "(setup.sh installs it)") from None
    library = sgemm_library(torch)
    name = os.path.basename(library)
    # Debian's OpenBLAS libblas.so.3 lives in .../openblas-<flavour>/; the reference BLAS in
    # .../blas/ (libblas.so.3.x).
    if "openblas" not in os.path.basename(os.path.dirname(library)) and "openblas" not in name:
        raise BlasError(
            f"torch's sgemm_ comes from {library}, not OpenBLAS (the reference BLAS runs at a "
            "few GFLOP/s): install libopenblas0-pthread (setup.sh does) and let Debian's "
            "alternatives select it: update-alternatives --display "
            "libblas.so.3-x86_64-linux-gnu; update-alternatives --auto "
            "libblas.so.3-x86_64-linux-gnu")
    pools = [p for p in threadpool_info() if p.get("internal_api") == "openblas"]
    if not pools:
        raise BlasError(f"threadpoolctl finds no OpenBLAS in this process (sgemm_ from {library})")
    pool = pools[0]
    return {"internal_api": pool["internal_api"], "version": pool.get("version"),
            "architecture": pool.get("architecture"),
            "threading_layer": pool.get("threading_layer"),
            "num_threads": pool.get("num_threads"), "sgemm_library": library,
            "openblas_library": pool.get("filepath")}


def report_environment(torch, threads, blas):
    """Record the torch build, threading and BLAS selection on stderr."""
    blas_threads = os.environ.get("OPENBLAS_NUM_THREADS")
    if blas_threads != "1":
        print(f"warning: OPENBLAS_NUM_THREADS is {blas_threads!r}; OpenBLAS's own threads compete "
              "with torch's (set it to 1)", file=sys.stderr)
    capability = [line.strip() for line in torch.__config__.show().splitlines()
                  if "CPU capability" in line]
    print(f"torch {torch.__version__}: {capability[0].lstrip('- ') if capability else 'CPU capability unknown'}",
          file=sys.stderr)
    for line in torch.__config__.parallel_info().strip().splitlines():
        if "get_num_threads" in line or "backend" in line or "omp_get_max_threads" in line:
            print(line.strip(), file=sys.stderr)
    print(f"threads {threads}, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}, "
          f"OPENBLAS_NUM_THREADS={blas_threads}, OMP_WAIT_POLICY="
          f"{os.environ.get('OMP_WAIT_POLICY')}", file=sys.stderr)
    print(f"blas: {blas['internal_api']} {blas['version']}, core {blas['architecture']}, "
          f"threading {blas['threading_layer']}, {blas['num_threads']} thread(s); torch's sgemm_ "
          f"from {blas['sgemm_library']}", file=sys.stderr)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(),
                        help="folder with the MNIST IDX files (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs to time (default 2)")
    parser.add_argument("--train-samples", type=int, default=50_000,
                        help="size of the train split (default 50000, as ioca's default)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--activation", choices=("relu", "tanh"), default="relu")
    parser.add_argument("--check-blas", action="store_true",
                        help="only check that torch runs on OpenBLAS, print it as JSON and exit")
    parser.add_argument("--no-foreach", dest="foreach", action="store_false",
                        help="use Adam's per-tensor loop instead of its multi-tensor path")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.threads < 1 or args.train_samples < 1:
        parser.error("--epochs, --batch-size, --threads and --train-samples must be >= 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    import torch  # imported after argument parsing so --help works without torch

    try:
        blas = check_blas(torch)
    except BlasError as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    if args.check_blas:
        print(json.dumps(blas))
        return 0
    torch.set_num_threads(args.threads)
    report_environment(torch, args.threads, blas)
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    x, y = load_train_split(torch, args.data_dir, args.train_samples)
    model = make_model(torch, args.activation)
    optimizer = make_optimizer(torch, model, args.lr, args.foreach)

    seconds = []
    for epoch in range(1, args.epochs + 1):
        elapsed, loss, accuracy = train_epoch(torch, model, optimizer, x, y, args.batch_size, generator)
        seconds.append(elapsed)
        print(f"epoch {epoch:3d}  loss {loss:.4f}  train accuracy {accuracy:.4f}  {elapsed:.2f} s  "
              f"{len(x) / elapsed:.0f} samples/s", file=sys.stderr)

    median_seconds = statistics.median(seconds)
    print(json.dumps({"framework": "pytorch",
                      "samples_per_second": statistics.median(len(x) / s for s in seconds),
                      "seconds_per_epoch": median_seconds, "threads": args.threads,
                      "torch_version": torch.__version__, "epochs": args.epochs,
                      "samples_per_epoch": len(x), "batch_size": args.batch_size,
                      "adam_foreach": args.foreach, "activation": args.activation,
                      "blas": blas, "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
                      "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
