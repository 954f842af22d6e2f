"""Synthetic ioca study results files, written with h5py as docs/study.md lays them out.

`write_results(path, ..., version=1)` writes a deterministic file: root attributes,
/networks/<net> with its attributes, hidden_widths, model/, measures/layers/K/,
information_plane/, ablation/<scope>/<quantity>/<direction>/ and ablation/<scope>/random/,
single_neuron/layers/K/ and /provenance. Curves follow a simple model in which neuron i
carries importance w_i (correlated with its mutual information):
accuracy(S) = chance + (intact − chance) · exp(−3 Σ_{i∈S} w_i / Σ_scope w), per class with
class-specific weights, overall accuracy the mean over classes.

With version=2 the same logical content is written in format 2 (docs/study.md: arrays
packed into /data/*, index tables): `convert_to_v2` rewrites any format-1 file that way,
so a test may also change a format-1 file first and convert it afterwards.
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

import h5py
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # import ioca_analysis

ALL_MEASURES = ("entropy", "mutual_information", "kl_selectivity", "selectivity_index",
                "mean_activation", "mean_abs_activation", "activation_variance",
                "outgoing_l1", "outgoing_l2")


def _string(value, style):
    """A string attribute value: variable-length str, or fixed-length bytes."""
    return value if style == "vlen" else np.bytes_(value.encode("utf-8"))


def _set_attrs(obj, attrs, style):
    for k, v in attrs.items():
        obj.attrs[k] = _string(v, style) if isinstance(v, str) else v


def net_name(dataset, activation, widths, seed):
    return f"{dataset}-{activation}-{'x'.join(str(w) for w in widths)}-s{seed}"


def recorded_points(n, steps):
    if steps <= 0:
        return np.arange(n + 1, dtype=np.int64)
    return np.unique(np.round(np.linspace(0, n, steps + 1)).astype(np.int64))


def ascending_order(values):
    return np.argsort(np.asarray(values), kind="stable").astype(np.int64)


def tied_count(values):
    """Values equal to at least one other value (the `tied` attribute of an ordered curve)."""
    _, inverse, counts = np.unique(np.asarray(values), return_inverse=True, return_counts=True)
    return int(np.sum(counts[inverse.reshape(-1)] > 1))


def write_results(path, *, conditions=(("synthetic", "relu", (8, 6)),
                                       ("synthetic", "tanh", (8, 6))),
                  seeds=(1, 2, 3), classes=3, repeats=4,
                  quantities=("entropy", "mutual_information", "single_damage"),
                  directions=("ascending", "descending"), scopes=None, steps=0,
                  single=True, information_plane=True, measures=True, ablation=True,
                  string_style="vlen", complete=1, inputs=5, measure_names=ALL_MEASURES,
                  version=1, training_plane=False, snapshot_epochs=(0, 1, 2, 5),
                  measure_samples=None):
    """Write a results file; returns {net name: dict of what was written}.

    scopes None means every hidden layer plus "network"; repeats 0 writes no random curves;
    measure_names: the per-neuron measures stored (all of them by default);
    version: the results format, 1 or 2 (the same content either way);
    training_plane: also write training/information_plane (snapshots at snapshot_epochs of
    500 samples; layer 0 of relu networks saturates from epoch 2 on);
    measure_samples: the network attribute (N of the information plane; not written when
    None). With 64, layer 0's H(T) (6.0 to 6.1 bits) is saturated, layer 1's is not.
    """
    if version == 2:
        v1 = Path(str(path) + ".v1")
        written = write_results(v1, conditions=conditions, seeds=seeds, classes=classes,
                                repeats=repeats, quantities=quantities, directions=directions,
                                scopes=scopes, steps=steps, single=single,
                                information_plane=information_plane, measures=measures,
                                ablation=ablation, string_style=string_style,
                                complete=complete, inputs=inputs,
                                measure_names=measure_names, training_plane=training_plane,
                                snapshot_epochs=snapshot_epochs,
                                measure_samples=measure_samples)
        convert_to_v2(v1, path)
        v1.unlink()
        return written
    if version != 1:
        raise ValueError(f"results format {version}: the factory writes 1 or 2")
    written = {}
    with h5py.File(path, "w") as f:
        root = {"ioca_version": "0.0.0-test", "git_commit": "0" * 40, "study_name": "synthetic",
                "study_config": "name = synthetic\n[data]\ndatasets = synthetic\n",
                "study_config_hash": "0123456789abcdef"}
        _set_attrs(f, root, string_style)
        if string_style == "vlen":
            f.attrs["ioca_results_format"] = np.int64(1)
        else:  # a one-element array and fixed-length strings: the reader must cope
            f.attrs["ioca_results_format"] = np.array([1], dtype=np.int32)
        f.attrs["complete"] = np.int64(complete)
        f.attrs["networks"] = np.int64(len(conditions) * len(seeds))
        nets = f.create_group("networks")
        index = 0
        for ci, (dataset, activation, widths) in enumerate(conditions):
            widths = tuple(int(w) for w in widths)
            H = len(widths)
            for seed in seeds:
                name = net_name(dataset, activation, widths, seed)
                rng = np.random.default_rng(zlib.crc32(name.encode()))
                g = nets.create_group(name)
                intact = 0.9 - 0.05 * ci + 0.01 * seed
                info = {"name": name, "seed": seed, "widths": widths, "measures": {},
                        "drop": {}, "curves": {}, "random": {}}
                _set_attrs(g, {"index": np.int64(index), "dataset": dataset,
                               "hidden": ",".join(str(w) for w in widths),
                               "activation": activation, "seed": np.int64(seed),
                               "source": "trained", "classes": np.int64(classes),
                               "test_accuracy": float(intact), "test_loss": 0.4,
                               "model_fingerprint": f"{index:016x}", "binning": "uniform",
                               "bins": np.int64(30), "zero_bin": np.int64(0),
                               "estimator": "plugin", "measure_split": "validation",
                               "ablate_to": "zero", "random_repeats": np.int64(repeats),
                               "ablation_seed": np.int64(seed)}, string_style)
                if measure_samples is not None:
                    g.attrs["measure_samples"] = np.int64(measure_samples)
                index += 1
                g.create_dataset("hidden_widths", data=np.array(widths, dtype=np.int64))
                sizes = (inputs,) + widths + (classes,)
                for k in range(H + 1):
                    lg = g.create_group(f"model/layers/{k}")
                    lg.create_dataset("weight", data=rng.normal(size=(sizes[k + 1], sizes[k]))
                                      .astype(np.float32))
                    lg.create_dataset("bias", data=np.zeros(sizes[k + 1], dtype=np.float32))
                    _set_attrs(lg, {"activation": activation if k < H else "identity"},
                               string_style)
                # Per-neuron measures and importance.
                layer_measures, importance = [], []
                for k, n in enumerate(widths):
                    ent = rng.uniform(0.5, 3.0, n)
                    mi = ent * rng.uniform(0.05, 0.5, n)
                    m = {"entropy": ent, "mutual_information": mi,
                         "kl_selectivity": mi * rng.uniform(1.0, 2.0, n),
                         "selectivity_index": rng.uniform(0, 1, n),
                         "mean_activation": rng.uniform(0, 1, n),
                         "mean_abs_activation": rng.uniform(0, 1, n),
                         "activation_variance": rng.uniform(0, 0.5, n),
                         "outgoing_l1": rng.uniform(0, 3, n),
                         "outgoing_l2": rng.uniform(0, 1, n)}
                    m["selectivity_index"][0] = m["selectivity_index"][1]  # a tie
                    layer_measures.append(m)
                    w = mi + 0.05 * rng.uniform(0, 1, n) + 1e-3
                    importance.append(w)
                    info["measures"][k] = m
                    info["drop"][k] = 0.03 * w / w.max()
                if measures:
                    for k, m in enumerate(layer_measures):
                        mg = g.create_group(f"measures/layers/{k}")
                        for q, v in m.items():
                            if q in measure_names:
                                mg.create_dataset(q, data=v.astype(np.float64))
                        mg.create_dataset("kl_selectivity_class",
                                          data=rng.integers(0, classes, widths[k]))
                        mg.create_dataset("bin_low", data=np.zeros(widths[k]))
                        mg.create_dataset("bin_high", data=np.ones(widths[k]))
                        mg.create_dataset("bins_used",
                                          data=rng.integers(1, 30, widths[k]).astype(np.int64))
                if information_plane:
                    ip = g.create_group("information_plane")
                    hent = 6.0 - 0.7 * np.arange(H) + 0.1 * rng.uniform(size=H)
                    ip.create_dataset("entropy", data=hent)
                    ip.create_dataset("mutual_information",
                                      data=np.minimum(np.log2(classes),
                                                      0.9 + 0.2 * np.arange(H) +
                                                      0.05 * rng.uniform(size=H)))
                    info["information_plane"] = (hent, ip["mutual_information"][()])
                if training_plane:
                    tp = g.create_group("training/information_plane")
                    samples = 500
                    _set_attrs(tp, {"binning": "uniform", "bins": np.int64(30),
                                    "kde_noise_variance": 0.1, "samples": np.int64(samples),
                                    "log2_samples": float(np.log2(samples)),
                                    "split": "validation", "units": "bits"}, string_style)
                    epochs = np.array(snapshot_epochs, dtype=np.int64)
                    tp.create_dataset("epochs", data=epochs)
                    info["training_plane"] = {"epochs": epochs, "layers": []}
                    relu = activation == "relu"
                    for k in range(H):
                        e = epochs.astype(float)
                        top = np.log2(samples)
                        ent = np.minimum(top, (7.9 if relu and k == 0 else 5.0 - k) + 0.5 * e
                                         + 0.01 * seed)
                        values = {"binned_entropy": ent,
                                  "binned_mutual_information": np.minimum(
                                      np.log2(classes), 0.3 + 0.2 * e + 0.01 * seed),
                                  "saturated": (ent >= 0.99 * top).astype(np.int64),
                                  "kde_upper_xt": 4.0 - 0.1 * k + 0.3 * np.sqrt(e) + 0.02 * seed,
                                  "kde_upper_ty": 0.5 + 0.1 * e / (1 + e) + 0.01 * seed}
                        lg = tp.create_group(f"layers/{k}")
                        for q, v in values.items():
                            lg.create_dataset(q, data=v)
                        info["training_plane"]["layers"].append(values)
                if single:
                    sg = g.create_group("single_neuron")
                    sg.attrs["intact_accuracy"] = float(intact)
                    sg.attrs["intact_loss"] = 0.4
                    for k in range(H):
                        lg = sg.create_group(f"layers/{k}")
                        lg.create_dataset("accuracy_drop", data=info["drop"][k])
                        lg.create_dataset("loss_increase", data=2.0 * info["drop"][k])
                if ablation:
                    all_scopes = [f"layer{k}" for k in range(H)] + ["network"]
                    chosen = all_scopes if scopes is None else [s for s in scopes
                                                                if s in all_scopes]
                    class_factor = rng.uniform(0.5, 1.5, (sum(widths), classes))
                    for scope in chosen:
                        if scope == "network":
                            members = np.arange(sum(widths))
                            w = np.concatenate(importance)
                            vals = {q: np.concatenate([m[q] for m in layer_measures])
                                    for q in ALL_MEASURES}
                            vals["single_damage"] = np.concatenate(
                                [info["drop"][k] for k in range(H)])
                        else:
                            k = int(scope[5:])
                            offset = sum(widths[:k])
                            members = offset + np.arange(widths[k])
                            w = importance[k]
                            vals = dict(layer_measures[k])
                            vals["single_damage"] = info["drop"][k]
                        n = members.size
                        points = recorded_points(n, steps)
                        wc = w[:, None] * class_factor[members]

                        def curve(order):
                            cum = np.concatenate([np.zeros((1, classes)),
                                                  np.cumsum(wc[order], axis=0)])[points]
                            chance = 1.0 / classes
                            pc = chance + (intact - chance) * np.exp(-3.0 * cum / wc.sum(0))
                            return pc.mean(axis=1), pc

                        sg = g.create_group(f"ablation/{scope}")
                        sg.attrs["neurons"] = np.int64(n)
                        info["curves"][scope] = {}
                        for q in quantities:
                            asc = ascending_order(vals[q])
                            for d in directions:
                                order = asc if d == "ascending" else asc[::-1].copy()
                                acc, pc = curve(order)
                                dg = sg.create_group(f"{q}/{d}")
                                dg.create_dataset("accuracy", data=acc)
                                dg.create_dataset("loss", data=-np.log(acc))
                                dg.create_dataset("per_class_accuracy", data=pc)
                                dg.create_dataset("ablated", data=points)
                                dg.create_dataset("order", data=order)
                                dg.attrs["tied"] = np.int64(tied_count(vals[q]))
                                info["curves"][scope][(q, d)] = {"accuracy": acc,
                                                                 "ablated": points, "n": n,
                                                                 "tied": tied_count(vals[q])}
                        if repeats > 0:
                            orders = np.array([rng.permutation(n) for _ in range(repeats)])
                            accs, pcs = zip(*(curve(o) for o in orders))
                            rg = sg.create_group("random")
                            rg.create_dataset("accuracy", data=np.array(accs))
                            rg.create_dataset("loss", data=-np.log(np.array(accs)))
                            rg.create_dataset("per_class_accuracy", data=np.array(pcs))
                            rg.create_dataset("ablated", data=points)
                            rg.create_dataset("order", data=orders.astype(np.int64))
                            info["random"][scope] = {"accuracy": np.array(accs),
                                                     "ablated": points, "n": n}
                written[name] = info
        prov = f.create_group("provenance")
        _set_attrs(prov, {"ranks": np.int64(1), "threads_per_rank": np.int64(1),
                          "hosts": "localhost", "slurm_job_id": "", "wall_seconds": 0.5,
                          "checkpoints": np.int64(0), "resumed": np.int64(0)}, string_style)
    return written


# -- format 2 ----------------------------------------------------------------------------

V2_TYPES = {np.dtype(np.float32): 0, np.dtype(np.float64): 1}  # anything else: int64 (2)
V2_ARRAYS = ("f32", "f64", "i64")
V2_DTYPES = (np.float32, np.float64, np.int64)


def fnv1a64(data: bytes) -> int:
    """ioca's 64-bit FNV-1a (offset basis 1469598103934665603), written out again here so
    the reader's copy is tested against it."""
    h = 1469598103934665603
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def _plain(value):
    """An h5py attribute value as str, float or int (one-element arrays unwrapped)."""
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0]
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode().rstrip("\0")
    if isinstance(value, np.generic):
        value = value.item()
    return value


def _fixed(strings):
    """Fixed-length NUL-padded ASCII strings, as the spec asks."""
    data = [s.encode("ascii") for s in strings]
    return np.array(data, dtype=f"S{max([1] + [len(d) for d in data])}")


def _task_of(path):
    """The task that produced a dataset or attribute of a network, by its path."""
    parts = path.split("/")
    if parts[0] == "ablation" and len(parts) >= 3:
        return "sweep/" + "/".join(parts[1:3])
    return "prepare"


class _Packer:
    """Collects one network's rows task by task, in the order the spec prescribes."""

    def __init__(self):
        self.data = {0: [], 1: [], 2: []}
        self.filled = [0, 0, 0]
        self.datasets = []   # dicts of the /datasets columns
        self.attributes = []  # dicts of the /attributes columns
        self.tasks = []

    def add_network(self, index, name, group):
        datasets, attributes = [], [("", k, _plain(v)) for k, v in group.attrs.items()]

        def visit(rel, obj):
            if isinstance(obj, h5py.Dataset):
                datasets.append((rel, obj[()]))
            attributes.extend((rel, k, _plain(v)) for k, v in obj.attrs.items())

        group.visititems(visit)
        found = {"prepare": ([], [])}  # task -> (datasets, attributes)
        for rel, values in datasets:
            found.setdefault(_task_of(rel), ([], []))[0].append((rel, values))
        for rel, key, value in attributes:
            task = _task_of(rel)
            if rel.startswith("ablation/") and rel.count("/") == 1:
                # A scope's own attribute (neurons): written by its first sweep.
                task = next((t for t in found if t.startswith(f"sweep/{rel[9:]}/")), task)
            found.setdefault(task, ([], []))[1].append((rel, key, value))
        sweeps = sorted((t for t in found if t != "prepare"),
                        key=lambda t: (t.split("/")[1], t.endswith("/random"), t))
        for task in ["prepare"] + sweeps:
            self._add_task(index, name, task, *found[task])

    def _add_task(self, index, name, task, datasets, attributes):
        first_d, first_a = len(self.datasets), len(self.attributes)
        before = list(self.filled)
        for rel, values in datasets:
            a = np.asarray(values)
            kind = V2_TYPES.get(a.dtype, 2)
            a = np.ascontiguousarray(a, dtype=np.dtype(V2_DTYPES[kind]).newbyteorder("<"))
            shape = list(a.shape) + [0] * (3 - a.ndim)
            self.datasets.append({"network": index, "path": rel, "type": kind,
                                  "offset": self.filled[kind], "ndim": a.ndim,
                                  "shape": shape, "checksum": fnv1a64(a.tobytes()),
                                  "task": len(self.tasks)})
            self.data[kind].append(a.reshape(-1))
            self.filled[kind] += a.size
        for rel, key, value in attributes:
            kind = 0 if isinstance(value, str) else 1 if isinstance(value, float) else 2
            self.attributes.append({
                "network": index, "task": len(self.tasks), "path": rel, "name": key,
                "type": kind, "text": value if kind == 0 else "",
                "number": value if kind == 1 else np.nan,
                "integer": int(value) if kind == 2 else 0})
        self.tasks.append({"key": f"{index}/{name}/{task}", "network": index,
                           "dataset_first": first_d,
                           "dataset_count": len(self.datasets) - first_d,
                           "attribute_first": first_a,
                           "attribute_count": len(self.attributes) - first_a,
                           "elements": [n - b for n, b in zip(self.filled, before)]})


def _write_table(f, name, rows, columns, strings=()):
    g = f.create_group(name)
    for c in columns:
        values = [r[c] for r in rows]
        if c in strings:
            g.create_dataset(c, data=_fixed(values))
        else:
            dtype = {"type": np.uint8, "checksum": np.uint64, "number": np.float64}.get(
                c, np.int64)
            a = np.array(values, dtype=dtype)
            if c in ("shape", "elements"):
                a = a.reshape(len(rows), 3)
            g.create_dataset(c, data=a)


def _network_columns(nets):
    """/networks columns: one per network attribute; absent values "", NaN or 0."""
    columns = {"name": _fixed([name for _, name, _ in nets])}
    keys = sorted({k for _, _, attrs in nets for k in attrs})
    for k in keys:
        values = [attrs.get(k) for _, _, attrs in nets]
        if any(isinstance(v, str) for v in values):
            columns[k] = _fixed(["" if v is None else str(v) for v in values])
        elif any(isinstance(v, float) for v in values):
            columns[k] = np.array([np.nan if v is None else v for v in values])
        else:
            columns[k] = np.array([0 if v is None else v for v in values], dtype=np.int64)
    if "index" not in columns:
        columns["index"] = np.array([i for i, _, _ in nets], dtype=np.int64)
    return columns


def convert_to_v2(src, dst):
    """Rewrite the format-1 results file `src` as a format-2 file `dst` (same content)."""
    with h5py.File(src, "r") as f, h5py.File(dst, "w") as out:
        nets = []
        for name, g in f["networks"].items():
            attrs = {k: _plain(v) for k, v in g.attrs.items()}
            nets.append((int(attrs.get("index", len(nets))), name, attrs))
        nets.sort(key=lambda n: (n[0], n[1]))
        packer = _Packer()
        for index, name, _ in nets:
            packer.add_network(index, name, f["networks"][name])
        for k, v in f.attrs.items():
            out.attrs[k] = v
        out.attrs["ioca_results_format"] = np.int64(2)
        out.attrs["result_bytes"] = np.int64(sum(a.nbytes for parts in packer.data.values()
                                                 for a in parts))
        for k, v in _network_columns(nets).items():
            out.create_dataset(f"networks/{k}", data=v)
        _write_table(out, "datasets", packer.datasets,
                     ("network", "path", "type", "offset", "ndim", "shape", "checksum",
                      "task"), strings=("path",))
        _write_table(out, "attributes", packer.attributes,
                     ("network", "task", "path", "name", "type", "text", "number",
                      "integer"), strings=("path", "name", "text"))
        _write_table(out, "tasks", packer.tasks,
                     ("key", "network", "dataset_first", "dataset_count", "attribute_first",
                      "attribute_count", "elements"), strings=("key",))
        for kind, name in enumerate(V2_ARRAYS):
            parts = packer.data[kind]
            values = (np.concatenate(parts) if parts else np.zeros(0)).astype(V2_DTYPES[kind])
            # Small chunks, so that the tests read across chunk boundaries.
            out.create_dataset(f"data/{name}", data=values, chunks=(256,), maxshape=(None,),
                               compression="gzip")
        prov = out.create_group("provenance")
        for k, v in f["provenance"].attrs.items():
            prov.attrs[k] = v


def as_version(path, version):
    """Leave a format-1 file as it is (version 1) or rewrite it in place as format 2."""
    if version == 2:
        packed = Path(str(path) + ".v2")
        convert_to_v2(path, packed)
        packed.replace(path)
    return path


# -- pairwise ablation ----------------------------------------------------------------------

PAIR_GROUPS = ("redundant", "synergistic", "random")


def add_pair_interaction(path, effects, count=5, noise=0.002, layers=None):
    """Add `pair_interaction/layers/K/` (docs/study.md) to every network of the format-1
    file `path`: per hidden layer, `count` pairs in each group (redundant, synergistic,
    random, numbered 0, 1, 2), with accuracy_interaction = effects[group] + a seeded
    N(0, noise²) draw per pair, so a test can plant a difference between the groups.
    Returns {net name: {layer: dict of the arrays written}}."""
    written = {}
    with h5py.File(path, "r+") as f:
        for name, g in f["networks"].items():
            rng = np.random.default_rng(zlib.crc32(("pairs/" + name).encode()))
            widths = [int(w) for w in g["hidden_widths"][()]]
            written[name] = {}
            for k, n in enumerate(widths):
                if layers is not None and k not in layers:
                    continue
                candidates = [(i, j) for i in range(n) for j in range(i + 1, n)]
                picks = [candidates[int(rng.integers(len(candidates)))]
                         for _ in range(3 * count)]
                group = np.repeat(np.arange(3, dtype=np.int64), count)
                interaction = (np.asarray(effects, dtype=float)[group]
                               + noise * rng.standard_normal(group.size))
                single = rng.uniform(0, 0.02, size=group.size)
                arrays = {
                    "first": np.array([p[0] for p in picks], dtype=np.int64),
                    "second": np.array([p[1] for p in picks], dtype=np.int64),
                    "group": group,
                    "accuracy_drop": single + interaction,
                    "loss_increase": 3 * (single + interaction),
                    "accuracy_interaction": interaction,
                    "loss_interaction": 3 * interaction,
                    "redundancy": rng.uniform(0, 1, group.size),
                    "synergy": rng.uniform(0, 1, group.size),
                }
                lg = g.create_group(f"pair_interaction/layers/{k}")
                for key, values in arrays.items():
                    lg.create_dataset(key, data=values)
                lg.attrs["count"] = np.int64(count)
                lg.attrs["groups"] = ",".join(PAIR_GROUPS)
                written[name][k] = arrays
    return written


# -- single measures and ablation files ---------------------------------------------------

def write_single(folder, *, activation="relu", widths=(8, 6), seed=1, classes=3, repeats=4,
                 quantities=("entropy", "mutual_information", "single_damage"),
                 measure_names=ALL_MEASURES, model=True, steps=0):
    """The files of one network as `ioca train`, `ioca measure --out` and `ioca ablate
    --out` lay them out (README.md, "File formats"), cut from a one-network study of the
    factory: model.h5 (root attributes seed, test_accuracy, ...; omitted with model=False),
    measures.h5 (the study's measures/ at the root) and ablation.h5 (ablation/,
    single_neuron/, hidden_widths at the root; attribute `measures` names measures.h5).
    Returns (model, measures, ablation paths, the factory's record of the network)."""
    folder = Path(folder)
    study = folder / "one-network.h5"
    written = write_results(study, conditions=(("synthetic", activation, tuple(widths)),),
                            seeds=(seed,), classes=classes, repeats=repeats,
                            quantities=quantities, measure_names=measure_names,
                            steps=steps, information_plane=False)
    (name, info), = written.items()
    paths = {k: folder / f"{k}.h5" for k in ("model", "measures", "ablation")}
    with h5py.File(study, "r") as src:
        g = src[f"networks/{name}"]
        fingerprint = g.attrs["model_fingerprint"]
        if model:
            with h5py.File(paths["model"], "w") as f:
                src.copy(g["model/layers"], f, "layers")
                f.attrs["ioca_model_format"] = np.int64(1)
                f.attrs.update({"seed": np.int64(seed), "dataset": "synthetic",
                                "hidden": ",".join(str(w) for w in widths),
                                "activation": activation,
                                "test_accuracy": g.attrs["test_accuracy"],
                                "test_loss": g.attrs["test_loss"],
                                "ioca_version": "0.0.0-test", "git_commit": "1" * 40})
        with h5py.File(paths["measures"], "w") as f:
            src.copy(g["measures/layers"], f, "layers")
            f.attrs.update({"ioca_measures_format": np.int64(1), "binning": "uniform",
                            "bins": np.int64(30), "zero_bin": np.int64(0),
                            "estimator": "plugin", "split": "validation",
                            "samples": np.int64(500), "classes": np.int64(classes),
                            "units": "bits", "dataset": "synthetic",
                            "model": str(paths["model"]), "model_fingerprint": fingerprint,
                            "ioca_version": "0.0.0-test", "git_commit": "1" * 40})
        with h5py.File(paths["ablation"], "w") as f:
            for part in ("ablation", "single_neuron", "hidden_widths"):
                src.copy(g[part], f, part)
            f.attrs.update({"ioca_ablation_format": np.int64(1),
                            "model": str(paths["model"]), "model_fingerprint": fingerprint,
                            "measures": str(paths["measures"]), "ablate_to": "zero",
                            "engine": "fast", "dataset": "synthetic", "split": "test",
                            "samples": np.int64(300), "classes": np.int64(classes),
                            "seed": np.int64(seed), "random_repeats": np.int64(repeats),
                            "steps": np.int64(steps),
                            "intact_accuracy": g["single_neuron"].attrs["intact_accuracy"],
                            "intact_loss": g["single_neuron"].attrs["intact_loss"],
                            "ioca_version": "0.0.0-test", "git_commit": "1" * 40})
    study.unlink()
    return paths["model"], paths["measures"], paths["ablation"], info
