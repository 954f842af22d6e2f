"""Tidy pandas tables of an open ioca file (`Results`): one row per observation, one
column per variable, so that they filter, group and plot directly (analysis/README.md,
"Python API").

- `networks`: one row per network (condition, seed, test accuracy, ...).
- `curves`: one row per recorded point of every ablation curve (ordered and random).
- `measures`: one row per hidden neuron, one column per per-neuron quantity, plus its
  single-neuron damage.
- `auc`: one row per network and curve: AUC, gap to random, partial AUCs.
- `summary`: the report's AUC table, one row per condition and curve: mean, sd and n over
  seeds, the paired test and its Holm and BH adjusted p.
- `spearman`: one row per condition, quantity and scope: ρ with single-neuron damage over
  seeds.

pandas is imported here only, so the rest of the package works without it.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from . import stats
from .results import Results
from .tables import (PARTIAL_FRACTIONS, add_partial_auc, auc_rows, compute, fraction_key,
                     spearman_rows)

# The columns that identify a network in every table.
NETWORK_COLUMNS = ("network", "condition", "dataset", "activation", "hidden", "seed")


def _widths(hidden) -> str:
    return "x".join(str(w) for w in hidden)


def _ids(results: Results):
    """name -> the identifying columns of each network."""
    out = {}
    for cond in results.conditions:
        for net in cond.networks:
            out[net.name] = {"network": net.name, "condition": cond.label,
                             "dataset": net.dataset, "activation": net.activation,
                             "hidden": _widths(net.hidden), "seed": net.seed}
    return out


def networks(results: Results) -> pd.DataFrame:
    """One row per network: its condition, seed, test accuracy and what it holds."""
    rows = []
    ids = _ids(results)
    for net in results.networks:
        rows.append({**ids[net.name], "classes": net.classes,
                     "test_accuracy": net.test_accuracy, "settings": ",".join(net.settings),
                     "scopes": ",".join(net.scopes()),
                     "single_neuron": net.has_single_neuron,
                     "information_plane": net.has_information_plane,
                     "training_plane": net.has_training_plane})
    return pd.DataFrame(rows, columns=list(NETWORK_COLUMNS) + [
        "classes", "test_accuracy", "settings", "scopes", "single_neuron",
        "information_plane", "training_plane"])


CURVE_COLUMNS = list(NETWORK_COLUMNS) + ["scope", "quantity", "direction", "repeat", "n",
                                         "ablated", "fraction", "accuracy", "loss"]


def curves(results: Results, scope: Optional[str] = None, quantity: Optional[str] = None,
           random: bool = True, setting: Optional[str] = None) -> pd.DataFrame:
    """Every recorded point of every ablation curve, one row each.

    direction is "ascending" or "descending" for ordered curves and "random" for random
    orders (quantity "random", repeat = the order's number 0..R-1; -1 for ordered curves).
    fraction = ablated / n; accuracy is a fraction in [0, 1]; loss in nats (NaN when not
    recorded). scope, quantity: keep only those; random=False leaves random orders out;
    setting: a measure setting (`Results.settings`), default the first."""
    parts = []
    ids = _ids(results)

    def add(net, sc, q, d, c):
        # Columns as arrays, one DataFrame at the end: fast for thousands of curves.
        acc = np.atleast_2d(c.accuracy)
        loss = (np.atleast_2d(c.loss) if c.loss is not None
                else np.full(acc.shape, np.nan))
        R, P = acc.shape
        labels = dict(ids[net.name], scope=sc, quantity=q, direction=d, n=c.n)
        part = {k: np.full(R * P, v, dtype=object if isinstance(v, str) or v is None
                           else None) for k, v in labels.items()}
        part.update(repeat=np.repeat(np.arange(R) if d == "random" else [-1], P),
                    ablated=np.tile(c.ablated, R), fraction=np.tile(c.fraction, R),
                    accuracy=acc.reshape(-1), loss=loss.reshape(-1))
        parts.append(part)

    for cond in results.conditions:
        for base in cond.networks:
            if setting and setting not in base.settings:
                continue  # (as Results.curves: networks without that setting are left out)
            net = base.in_setting(setting) if setting else base
            for sc in base.scopes():
                if scope is not None and sc != scope:
                    continue
                for q, d in net.ordered_keys(sc):
                    if quantity is None or q == quantity:
                        c = net.ordered(sc, q, d)
                        if c is not None:
                            add(base, sc, q, d, c)
                if random and quantity in (None, "random"):
                    c = net.random(sc)
                    if c is not None:
                        add(base, sc, "random", "random", c)
    if not parts:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    out = pd.DataFrame({k: np.concatenate([p[k] for p in parts]) for k in CURVE_COLUMNS})
    seeds = pd.array(out["seed"].tolist(), dtype="Int64")  # (None: a network without seed)
    return out.assign(seed=seeds if seeds.isna().any() else seeds.astype(np.int64))


def measures(results: Results, setting: Optional[str] = None) -> pd.DataFrame:
    """One row per hidden neuron (network, layer, neuron): a column per per-neuron quantity
    of the measures (bits for the information quantities) and, when recorded, its
    single-neuron damage `accuracy_drop` (accuracy fraction) and `loss_increase` (nats)."""
    parts = []
    ids = _ids(results)
    for base in results.networks:
        if setting and setting not in base.settings:
            continue
        net = base.in_setting(setting) if setting else base
        for k in range(base.n_hidden):
            columns = {}
            for q in net.measure_names(k):
                columns[q] = net.measure(k, q)
            for q, v in (("accuracy_drop", base.accuracy_drop(k)),
                         ("loss_increase", base.loss_increase(k))):
                if v is not None:
                    columns[q] = v
            if not columns:
                continue
            n = max(v.size for v in columns.values())
            frame = {**{c: [v] * n for c, v in ids[base.name].items()}, "layer": k,
                     "neuron": np.arange(n)}
            for c, v in columns.items():
                frame[c] = v if v.size == n else np.full(n, np.nan)
            parts.append(pd.DataFrame(frame))
    if not parts:
        return pd.DataFrame(columns=list(NETWORK_COLUMNS) + ["layer", "neuron"])
    return pd.concat(parts, ignore_index=True)


def auc(results: Results, exact_max_n: int = stats.EXACT_MAX_N) -> pd.DataFrame:
    """One row per network and curve: `auc` (trapezoid of accuracy over ablated / n) and
    `gap` (auc minus the mean AUC of the network's random orders; NaN without them), and
    the same over the first 50% and 25% of the ablations (`auc_0.5`, `gap_0.5`, ...).
    Random orders are rows with direction "random": their mean AUC."""
    ordered, random_rows = auc_rows(results, exact_max_n)
    add_partial_auc(results, ordered, random_rows, PARTIAL_FRACTIONS, exact_max_n)
    ids = _ids(results)
    rows = []
    for r in ordered:
        partial = {fraction_key(f): {e["network"]: e for e in
                                     r["partial"][fraction_key(f)]["per_seed"]}
                   for f in PARTIAL_FRACTIONS if fraction_key(f) in r.get("partial", {})}
        for e in r["per_seed"]:
            row = {**ids[e["network"]], "scope": r["scope"], "quantity": r["quantity"],
                   "direction": r["direction"], "auc": e["auc"], "gap": e["gap"]}
            for key, by_net in partial.items():
                p = by_net.get(e["network"], {})
                row[f"auc_{key}"] = p.get("auc", np.nan)
                row[f"gap_{key}"] = p.get("gap", np.nan)
            rows.append(row)
    for r in random_rows:
        partial = {key: {e["network"]: e["auc_mean"] for e in p["per_seed"]}
                   for key, p in r.get("partial", {}).items()}
        for e in r["per_seed"]:
            row = {**ids[e["network"]], "scope": r["scope"], "quantity": "random",
                   "direction": "random", "auc": e["auc_mean"], "gap": np.nan}
            for key, by_net in partial.items():
                row[f"auc_{key}"] = by_net.get(e["network"], np.nan)
                row[f"gap_{key}"] = np.nan
            rows.append(row)
    return pd.DataFrame(rows)


def summary(results: Results, exact_max_n: int = stats.EXACT_MAX_N,
            p_family: str = "report") -> pd.DataFrame:
    """The report's AUC table: one row per condition, scope, quantity and direction, with
    mean, sd and n over seeds of the AUC and of the gap to random, the paired test across
    seeds of gap = 0 (`test`, `p`) and its Holm and Benjamini–Hochberg adjusted p over the
    report's family (`p_holm`, `p_bh`); and `asc_minus_desc` (AUC ascending − descending,
    mean over seeds) with its test's p on the ascending row."""
    t = compute(results, exact_max_n, p_family)
    asc = {(r["condition"], r["scope"], r["quantity"]): r for r in t.asc_desc}
    rows = []
    for r in t.auc:
        test = r["gap_test"]
        row = {"condition": r["condition"], "scope": r["scope"], "quantity": r["quantity"],
               "direction": r["direction"], "n": r["auc"]["n"],
               "auc_mean": r["auc"]["mean"], "auc_sd": r["auc"]["sd"],
               "gap_mean": r["gap"]["mean"], "gap_sd": r["gap"]["sd"],
               "test": test.get("test"), "p": test.get("p"), "p_holm": test.get("p_holm"),
               "p_bh": test.get("p_bh"), "asc_minus_desc": np.nan, "asc_minus_desc_p": np.nan}
        a = asc.get((r["condition"], r["scope"], r["quantity"]))
        if a is not None and r["direction"] == "ascending":
            row["asc_minus_desc"] = a["difference"]["mean"]
            row["asc_minus_desc_p"] = a["test"].get("p")
        rows.append(row)
    for r in t.random_auc:
        rows.append({"condition": r["condition"], "scope": r["scope"], "quantity": "random",
                     "direction": "random", "n": r["auc"]["n"], "auc_mean": r["auc"]["mean"],
                     "auc_sd": r["auc"]["sd"]})
    out = pd.DataFrame(rows)
    return out.astype({c: float for c in ("p", "p_holm", "p_bh", "asc_minus_desc_p")
                       if c in out})


def spearman(results: Results) -> pd.DataFrame:
    """Spearman's ρ between each per-neuron quantity and single-neuron damage: one row per
    condition, quantity and scope (layerK, or network for all hidden neurons pooled), mean,
    sd and n over seeds."""
    rows = [{"condition": r["condition"], "quantity": r["quantity"], "scope": r["scope"],
             "rho_mean": r["rho"]["mean"], "rho_sd": r["rho"]["sd"], "n": r["rho"]["n"]}
            for r in spearman_rows(results)]
    return pd.DataFrame(rows, columns=["condition", "quantity", "scope", "rho_mean", "rho_sd",
                                       "n"])

