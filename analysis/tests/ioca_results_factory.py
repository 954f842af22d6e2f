"""Synthetic ioca study results files, written with h5py as docs/study.md lays them out.

`write_results(path, ...)` writes a deterministic file (format 1): root attributes,
/networks/<net> with its attributes, hidden_widths, model/, measures/layers/K/,
information_plane/, ablation/<scope>/<quantity>/<direction>/ and ablation/<scope>/random/,
single_neuron/layers/K/ and /provenance. Curves follow a simple model in which neuron i
carries importance w_i (correlated with its mutual information):
accuracy(S) = chance + (intact − chance) · exp(−3 Σ_{i∈S} w_i / Σ_scope w), per class with
class-specific weights, overall accuracy the mean over classes.
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


def write_results(path, *, conditions=(("synthetic", "relu", (8, 6)),
                                       ("synthetic", "tanh", (8, 6))),
                  seeds=(1, 2, 3), classes=3, repeats=4,
                  quantities=("entropy", "mutual_information", "single_damage"),
                  directions=("ascending", "descending"), scopes=None, steps=0,
                  single=True, information_plane=True, measures=True, ablation=True,
                  string_style="vlen", complete=1, inputs=5, measure_names=ALL_MEASURES):
    """Write a results file; returns {net name: dict of what was written}.

    scopes None means every hidden layer plus "network"; repeats 0 writes no random curves;
    measure_names: the per-neuron measures stored (all of them by default).
    """
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
                                info["curves"][scope][(q, d)] = {"accuracy": acc,
                                                                 "ablated": points, "n": n}
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
