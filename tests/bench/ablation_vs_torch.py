"""The standard ablation workload (W1) of ioca against PyTorch, per ablation step, in one run.

ioca's side is build/tests/ioca_bench_ablation (48 sweeps, 12,800 steps over the 10,000
MNIST test images: entropy, mutual information and KL selectivity x ascending/descending x
scopes layer0, layer1, network, plus 10 random orders per scope; zero ablation; every step
recorded), whose fast-engine wall time (median of 3) divided by its steps is ioca's cost per
step. PyTorch's side is what an ablation step costs there: the test set's forward pass with
the ablated hidden neurons masked to zero, then the summed cross-entropy and the accuracy,
timed over STEPS steps of a random order of the network's 400 hidden neurons, median per
step. A second PyTorch figure keeps the first layer's pre-activations from the intact pass
(they never change when hidden neurons are ablated), the cheapest honest shortcut.

The rounds alternate ioca and PyTorch, so that both see the same machine load. PyTorch must
run on OpenBLAS: the script checks which library torch's sgemm_ comes from and what
threadpoolctl reports (torch_train_throughput.check_blas) and refuses to report a ratio on any
other BLAS (Debian's python3-torch alone brings the reference BLAS, ~20x slower here; the
setup installs libopenblas0-pthread). OpenBLAS picks its kernels for the CPU itself; an
OPENBLAS_CORETYPE from the environment is removed unless --keep-coretype is given.

Run (after ./setup.sh), on an idle machine:
  /usr/bin/python3 tests/bench/ablation_vs_torch.py [--model M.h5] [--rounds 3]
Without --model, a 784-200-200-10 ReLU network is trained first (ioca train, 5 epochs).
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch_train_throughput as reference  # noqa: E402  (its IDX reader and BLAS check)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", help="784-200-200-10 ReLU MNIST model (ioca HDF5); default: train one")
    p.add_argument("--data-dir", default=os.environ.get("IOCA_DATA", str(REPO / "data")) + "/mnist")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=40, help="PyTorch steps timed per round")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--build", default=str(REPO / "build"))
    p.add_argument("--keep-coretype", action="store_true",
                   help="keep OPENBLAS_CORETYPE from the environment (default: OpenBLAS chooses)")
    return p.parse_args()


def main():
    args = parse_args()
    if not args.keep_coretype and "OPENBLAS_CORETYPE" in os.environ:
        # Too late for an OpenBLAS already loaded; torch is imported below, after this.
        print(f"note: OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']} removed: OpenBLAS "
              "chooses its kernels for this CPU (--keep-coretype keeps it)")
        del os.environ["OPENBLAS_CORETYPE"]
    # An ablation step's products are large (10,000 x 784 x 200): OpenBLAS's own threads
    # split them; torch does not split a product over its threads.
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    import numpy as np
    import torch

    ioca = Path(args.build) / "ioca"
    bench = Path(args.build) / "tests" / "ioca_bench_ablation"
    for tool in (ioca, bench):
        if not tool.exists():
            sys.exit(f"{tool} not found: build it (ninja -C build ioca ioca_bench_ablation)")
    print(subprocess.run([str(ioca), "--version"], capture_output=True, text=True,
                         check=True).stdout.strip())

    torch.set_num_threads(args.threads)
    torch.ones(4, 4) @ torch.ones(4, 4)  # loads the BLAS
    try:
        blas = reference.check_blas(torch)  # the library torch's sgemm_ really comes from
    except reference.BlasError as e:
        sys.exit(f"no ratio reported: {e}")
    print(f"pytorch {torch.__version__}: BLAS OpenBLAS {blas['version']}, core "
          f"{blas['architecture']}, {blas['threading_layer']}, {blas['num_threads']} threads "
          f"(sgemm_ from {blas['sgemm_library']}); {torch.get_num_threads()} torch threads")

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if not model:
            model = os.path.join(tmp, "w1.h5")
            subprocess.run([str(ioca), "train", "--dataset", "mnist", "--hidden", "200x200",
                            "--epochs", "5", "--seed", "1", "--data-dir", args.data_dir,
                            "--out", model, "--quiet"], check=True)
        net = load_model(model, np)
        x, y = load_test(args.data_dir, np)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        layers = [(torch.from_numpy(w), torch.from_numpy(b)) for w, b in net["layers"]]
        if len(layers) != 3 or layers[0][0].shape != (200, 784) or layers[1][0].shape != (200, 200):
            sys.exit(f"{model}: expected a 784-200-200-10 network")
        if (net["mean"], net["std"]) != (0.0, 1.0):
            xt = (xt - net["mean"]) / net["std"]

        ioca_steps, ioca_runs, torch_runs, cached_runs = None, [], [], []
        for r in range(1, args.rounds + 1):
            out = subprocess.run([str(bench), model, args.data_dir], capture_output=True,
                                 text=True, env=dict(os.environ, OMP_NUM_THREADS=str(args.threads)))
            if out.returncode != 0:
                sys.exit(f"ioca_bench_ablation failed:\n{out.stdout}{out.stderr}")
            ioca_steps = int(re.search(r"(\d+) steps", out.stdout).group(1))
            fast = float(re.search(r"fast engine: ([0-9.]+) s", out.stdout).group(1))
            ioca_runs.append(fast / ioca_steps)
            per_step, per_step_cached = torch_steps(torch, xt, yt, layers, args.steps, seed=r)
            torch_runs.append(per_step)
            cached_runs.append(per_step_cached)
            print(f"round {r}: ioca W1 {fast:.3f} s = {1e3 * fast / ioca_steps:.4f} ms/step; "
                  f"pytorch {1e3 * per_step:.2f} ms/step (first layer cached: "
                  f"{1e3 * per_step_cached:.2f} ms/step)")

    ioca_step = statistics.median(ioca_runs)
    t_step, c_step = statistics.median(torch_runs), statistics.median(cached_runs)
    print(f"median over {args.rounds} rounds: ioca W1 {ioca_step * ioca_steps:.3f} s "
          f"({ioca_steps} steps, spread {max(ioca_runs) / min(ioca_runs):.2f}x between rounds), "
          f"{1e3 * ioca_step:.4f} ms/step")
    print(f"pytorch per step: {1e3 * t_step:.2f} ms -> ratio {t_step / ioca_step:.0f}x; "
          f"with the first layer cached {1e3 * c_step:.2f} ms -> ratio {c_step / ioca_step:.0f}x")


def load_model(path, np):
    import h5py
    with h5py.File(path, "r") as f:
        layers, acts = [], []
        for k in sorted(f["layers"], key=int):
            g = f["layers"][k]
            layers.append((np.asarray(g["weight"], np.float32), np.asarray(g["bias"], np.float32)))
            a = g.attrs.get("activation", "relu")
            acts.append(a.decode() if isinstance(a, bytes) else str(a))
        if any(a != "relu" for a in acts[:-1]):
            sys.exit(f"{path}: hidden activations {acts[:-1]}; this benchmark is for ReLU networks")
        return {"layers": layers, "mean": float(f.attrs.get("input_mean", 0.0)),
                "std": float(f.attrs.get("input_std", 1.0))}


def load_test(folder, np):
    x = reference.read_idx_images(folder, "t10k-images-idx3-ubyte").astype(np.float32) / 255.0
    y = reference.read_idx_labels(folder, "t10k-labels-idx1-ubyte").astype(np.int64)
    return x, y


def torch_steps(torch, x, y, layers, steps, seed):
    """Median seconds per ablation step: plain (full forward) and first layer cached."""
    (w0, b0), (w1, b1), (w2, b2) = layers
    order = torch.randperm(400, generator=torch.Generator().manual_seed(seed))[:steps]
    loss_fn = torch.nn.CrossEntropyLoss(reduction="sum")

    def run(first):
        mask0, mask1 = torch.ones(200), torch.ones(200)
        times = []
        with torch.no_grad():
            for n in order.tolist():
                (mask0 if n < 200 else mask1)[n % 200] = 0.0
                start = time.perf_counter()
                a0 = torch.relu(first()) * mask0
                a1 = torch.relu(torch.addmm(b1, a0, w1.t())) * mask1
                logits = torch.addmm(b2, a1, w2.t())
                loss = loss_fn(logits, y).item()
                correct = (logits.argmax(dim=1) == y).sum().item()
                times.append(time.perf_counter() - start)
        assert loss == loss and 0 <= correct <= len(y)
        return statistics.median(times)

    z0 = torch.addmm(b0, x, w0.t())
    return run(lambda: torch.addmm(b0, x, w0.t())), run(lambda: z0)


if __name__ == "__main__":
    main()
