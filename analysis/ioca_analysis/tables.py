"""The report's tables as plain records (dicts of numbers), computed from a `Results`.

Conditions = (data set, activation, hidden widths); seeds are replicates. Every table
summarises one number per seed as mean ± sd over seeds (n shown) and, where a paired
question is asked, tests it across seeds with `stats.paired_test`.

Partial AUC (`add_partial_auc`, `add_partial_asc_desc`): the AUC, gap and asc − desc rows
carry the same numbers over the first 50% and 25% of the ablations under "partial"
(keys "0.5", "0.25"). `adjust_p_values` adds Holm and Benjamini–Hochberg adjusted
p-values ("p_holm", "p_bh") to every test over a family of tests: the whole report
(default) or one displayed table.

Pair interaction (`interaction_rows`): per condition and layer with pairwise ablation, the
mean interaction of the redundant, synergistic and random pairs per seed, the paired
differences redundant − random and synergistic − random, their tests (in the same families)
and verdicts (`add_interaction_verdicts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from . import stats
from .results import (PAIR_GROUPS, Condition, Network, Results, quantity_sort_key,
                      scope_sort_key)


@dataclass
class Tables:
    overview: List[Dict] = field(default_factory=list)
    spearman: List[Dict] = field(default_factory=list)
    auc: List[Dict] = field(default_factory=list)
    random_auc: List[Dict] = field(default_factory=list)
    asc_desc: List[Dict] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    p_families: List[Dict] = field(default_factory=list)
    # "holds in k of K settings" of every gap and correlation (settings_holds).
    holds: Dict = field(default_factory=dict)
    # Pairwise ablation interaction per condition and layer (interaction_rows).
    interaction: List[Dict] = field(default_factory=list)
    # The information plane over training, per condition, layer and snapshot epoch.
    training_plane: List[Dict] = field(default_factory=list)


def _summary(values) -> Dict:
    mean, sd, n = stats.mean_sd(values)
    return {"mean": mean, "sd": sd, "n": n}


def _layers(net: Network) -> List[int]:
    return list(range(net.n_hidden))


def condition_quantities(cond: Condition) -> List[str]:
    """Per-neuron measure names present in any network and layer of a condition."""
    names = set()
    for net in cond.networks:
        for k in net.measure_layers():
            names.update(net.measure_names(k))
    return sorted(names, key=quantity_sort_key)


def condition_scopes(cond: Condition) -> List[str]:
    names = set()
    for net in cond.networks:
        names.update(net.scopes())
    return sorted(names, key=scope_sort_key)


def condition_orders(cond: Condition, scope: str) -> List:
    keys = []
    for net in cond.networks:
        for k in net.ordered_keys(scope):
            if k not in keys:
                keys.append(k)
    return sorted(keys, key=lambda k: (quantity_sort_key(k[0]),
                                       0 if k[1] == "ascending" else
                                       1 if k[1] == "descending" else 2, k[1]))


def overview_rows(results: Results) -> List[Dict]:
    rows = []
    for cond in results.conditions:
        nets = cond.networks
        acc = [n.test_accuracy for n in nets]
        rows.append({
            "condition": cond.label, "dataset": cond.dataset, "activation": cond.activation,
            "hidden": list(cond.hidden), "classes": cond.classes,
            "networks": [n.name for n in nets], "seeds": [n.seed for n in nets],
            "test_accuracy": _summary(acc),
            "scopes": condition_scopes(cond),
            "quantities": condition_quantities(cond),
            "with_single_neuron": sum(n.has_single_neuron for n in nets),
            "with_information_plane": sum(n.has_information_plane for n in nets),
            "with_ablation": sum(n.has_ablation for n in nets),
            "random_repeats": _random_repeats(nets),
        })
    return rows


def _random_repeats(nets: List[Network]) -> Optional[int]:
    for net in nets:
        for scope in net.scopes():
            r = net.random(scope)
            if r is not None:
                return int(r.accuracy.shape[0])
    return None


def spearman_rows(results: Results) -> List[Dict]:
    """Spearman rho of each quantity with single-neuron accuracy drop, per layer and pooled."""
    rows = []
    for cond in results.conditions:
        nets = [n for n in cond.networks if n.has_single_neuron and n.has_measures]
        if not nets:
            continue
        for q in condition_quantities(cond):
            per_seed: Dict[str, List] = {}
            for net in nets:
                layers = _layers(net)
                values = [net.measure(k, q) for k in layers]
                damage = [net.accuracy_drop(k) for k in layers]
                for scope, rho in stats.spearman_by_layer(values, damage).items():
                    per_seed.setdefault(scope, []).append({"seed": net.seed,
                                                           "network": net.name, "rho": rho})
            for scope in sorted(per_seed, key=scope_sort_key):
                entries = per_seed[scope]
                rows.append({"condition": cond.label, "quantity": q, "scope": scope,
                             "per_seed": entries,
                             "rho": _summary([e["rho"] for e in entries])})
    return rows


def _random_auc(net: Network, scope: str) -> Optional[np.ndarray]:
    r = net.random(scope)
    if r is None:
        return None
    return stats.auc_rows(r.ablated, r.accuracy, r.n)


def auc_rows(results: Results, exact_max_n: int = stats.EXACT_MAX_N):
    """(ordered-curve AUC rows, random AUC rows)."""
    rows, random_rows = [], []
    for cond in results.conditions:
        for scope in condition_scopes(cond):
            rand_by_net = {}
            for net in cond.networks:
                a = _random_auc(net, scope)
                if a is not None:
                    rand_by_net[net.name] = a
            if rand_by_net:
                pooled = np.concatenate(list(rand_by_net.values()))
                random_rows.append({
                    "condition": cond.label, "scope": scope,
                    "per_seed": [{"seed": n.seed, "network": n.name,
                                  "auc_mean": float(np.nanmean(rand_by_net[n.name])),
                                  "auc": rand_by_net[n.name].tolist(),
                                  "repeats": int(rand_by_net[n.name].size)}
                                 for n in cond.networks if n.name in rand_by_net],
                    "auc": _summary([np.nanmean(v) for v in rand_by_net.values()]),
                    "auc_pooled": _summary(pooled),
                })
            for q, d in condition_orders(cond, scope):
                entries = []
                for net in cond.networks:
                    c = net.ordered(scope, q, d)
                    if c is None:
                        continue
                    a = stats.auc(c.ablated, c.accuracy, c.n)
                    r = rand_by_net.get(net.name)
                    gap = a - float(np.nanmean(r)) if r is not None else float("nan")
                    entries.append({"seed": net.seed, "network": net.name, "auc": a,
                                    "gap": gap})
                gaps = [e["gap"] for e in entries]
                rows.append({
                    "condition": cond.label, "scope": scope, "quantity": q, "direction": d,
                    "per_seed": entries, "auc": _summary([e["auc"] for e in entries]),
                    "gap": _summary(gaps),
                    "gap_test": stats.paired_test(gaps, exact_max_n).as_dict(),
                })
    return rows, random_rows


def asc_desc_rows(auc_table: List[Dict], exact_max_n: int = stats.EXACT_MAX_N) -> List[Dict]:
    """AUC_ascending − AUC_descending per condition, scope and quantity, paired by seed."""
    by_key: Dict = {}
    for row in auc_table:
        by_key[(row["condition"], row["scope"], row["quantity"], row["direction"])] = row
    rows = []
    for (cond, scope, q, d), asc in by_key.items():
        if d != "ascending":
            continue
        desc = by_key.get((cond, scope, q, "descending"))
        if desc is None:
            continue
        desc_auc = {e["network"]: e["auc"] for e in desc["per_seed"]}
        entries = [{"seed": e["seed"], "network": e["network"],
                    "difference": e["auc"] - desc_auc[e["network"]]}
                   for e in asc["per_seed"] if e["network"] in desc_auc]
        diffs = [e["difference"] for e in entries]
        rows.append({"condition": cond, "scope": scope, "quantity": q, "per_seed": entries,
                     "difference": _summary(diffs),
                     "test": stats.paired_test(diffs, exact_max_n).as_dict()})
    return rows


# Partial AUC: fractions of the ablation steps, as in the report's columns (keys f"{f:g}").
PARTIAL_FRACTIONS = (0.5, 0.25)


def fraction_key(f: float) -> str:
    return f"{f:g}"


def add_partial_auc(results: Results, auc_table: List[Dict], random_table: List[Dict],
                    fractions=PARTIAL_FRACTIONS, exact_max_n: int = stats.EXACT_MAX_N):
    """Give each AUC and random-AUC row a "partial" dict: per fraction f, the same numbers
    computed with `stats.partial_auc` over the first f of the ablations (mean accuracy over
    x in [0, f]); the gap is to the mean partial AUC of the same network's random orders."""
    by_key = {(r["condition"], r["scope"], r["quantity"], r["direction"]): r
              for r in auc_table}
    rand_rows = {(r["condition"], r["scope"]): r for r in random_table}
    for cond in results.conditions:
        for scope in condition_scopes(cond):
            rand = {}                                  # (net name, f) -> [R] partial AUCs
            for net in cond.networks:
                r = net.random(scope)
                if r is not None:
                    for f in fractions:
                        rand[net.name, f] = stats.partial_auc_rows(r.ablated, r.accuracy,
                                                                   r.n, f)
            rrow = rand_rows.get((cond.label, scope))
            if rrow is not None:
                rrow["partial"] = {}
                for f in fractions:
                    nets = [n for n in cond.networks if (n.name, f) in rand]
                    means = [float(np.nanmean(rand[n.name, f])) for n in nets]
                    rrow["partial"][fraction_key(f)] = {
                        "fraction": f,
                        "per_seed": [{"seed": n.seed, "network": n.name, "auc_mean": m}
                                     for n, m in zip(nets, means)],
                        "auc": _summary(means),
                        "auc_pooled": _summary(np.concatenate([rand[n.name, f]
                                                               for n in nets])),
                    }
            for q, d in condition_orders(cond, scope):
                row = by_key.get((cond.label, scope, q, d))
                if row is None:
                    continue
                row["partial"] = {}
                for f in fractions:
                    entries = []
                    for net in cond.networks:
                        c = net.ordered(scope, q, d)
                        if c is None:
                            continue
                        a = stats.partial_auc(c.ablated, c.accuracy, c.n, f)
                        r = rand.get((net.name, f))
                        gap = a - float(np.nanmean(r)) if r is not None else float("nan")
                        entries.append({"seed": net.seed, "network": net.name, "auc": a,
                                        "gap": gap})
                    gaps = [e["gap"] for e in entries]
                    row["partial"][fraction_key(f)] = {
                        "fraction": f, "per_seed": entries,
                        "auc": _summary([e["auc"] for e in entries]), "gap": _summary(gaps),
                        "gap_test": stats.paired_test(gaps, exact_max_n).as_dict(),
                    }


def add_partial_asc_desc(auc_table: List[Dict], asc_desc_table: List[Dict],
                         exact_max_n: int = stats.EXACT_MAX_N):
    """Give each asc − desc row a "partial" dict: per fraction, the difference of the
    partial AUCs of `add_partial_auc`, paired by seed, and its test."""
    by_key = {(r["condition"], r["scope"], r["quantity"], r["direction"]): r
              for r in auc_table}
    for row in asc_desc_table:
        asc = by_key.get((row["condition"], row["scope"], row["quantity"], "ascending"))
        desc = by_key.get((row["condition"], row["scope"], row["quantity"], "descending"))
        if asc is None or desc is None or "partial" not in asc or "partial" not in desc:
            continue
        row["partial"] = {}
        for key, pa in asc["partial"].items():
            pd = desc["partial"].get(key)
            if pd is None:
                continue
            desc_auc = {e["network"]: e["auc"] for e in pd["per_seed"]}
            entries = [{"seed": e["seed"], "network": e["network"],
                        "difference": e["auc"] - desc_auc[e["network"]]}
                       for e in pa["per_seed"] if e["network"] in desc_auc]
            diffs = [e["difference"] for e in entries]
            row["partial"][key] = {"fraction": pa["fraction"], "per_seed": entries,
                                   "difference": _summary(diffs),
                                   "test": stats.paired_test(diffs, exact_max_n).as_dict()}


# -------------------------------------------------------------------------------------------
# Pairwise ablation: redundancy, synergy and interaction (analysis/README.md).

# The verdicts' level, applied to the BH-adjusted p of the report's family.
VERDICT_LEVEL = 0.05
# The two comparisons with the random pairs: (key, group, the sign the hypothesis expects).
INTERACTION_COMPARISONS = (("redundant", "redundant", -1.0), ("synergistic", "synergistic", 1.0))


def _group_means(pairs: Dict, column: str) -> Dict[str, float]:
    """Mean of one column over each group's pairs (NaN for a group without pairs)."""
    out = {}
    for g, name in enumerate(PAIR_GROUPS):
        values = pairs.get(column)
        chosen = values[pairs["group"] == g] if values is not None else np.zeros(0)
        chosen = chosen[np.isfinite(chosen)]
        out[name] = float(chosen.mean()) if chosen.size else float("nan")
    return out


def interaction_rows(results: Results, exact_max_n: int = stats.EXACT_MAX_N) -> List[Dict]:
    """Per condition and hidden layer with `pair_interaction`: the mean interaction
    (damage together − damage apart) of each group's pairs per seed, summarised over seeds,
    and the paired differences redundant − random and synergistic − random with their test
    across seeds. Verdicts are added by `add_interaction_verdicts` once p is adjusted."""
    rows = []
    for cond in results.conditions:
        layers = sorted({k for net in cond.networks for k in net.pair_interaction_layers()})
        for layer in layers:
            entries = []
            for net in cond.networks:
                pairs = net.pair_interaction(layer)
                if pairs is None:
                    continue
                accuracy = _group_means(pairs, "accuracy_interaction")
                loss = _group_means(pairs, "loss_interaction")
                entries.append({
                    "seed": net.seed, "network": net.name,
                    "pairs": {name: int(np.count_nonzero(pairs["group"] == g))
                              for g, name in enumerate(PAIR_GROUPS)},
                    "accuracy_interaction": accuracy, "loss_interaction": loss,
                    **{f"{key}_minus_random": accuracy[group] - accuracy["random"]
                       for key, group, _ in INTERACTION_COMPARISONS},
                })
            row = {"condition": cond.label, "layer": layer, "per_seed": entries,
                   "accuracy_interaction": {name: _summary([e["accuracy_interaction"][name]
                                                            for e in entries])
                                            for name in PAIR_GROUPS},
                   "loss_interaction": {name: _summary([e["loss_interaction"][name]
                                                        for e in entries])
                                        for name in PAIR_GROUPS}}
            for key, _, _ in INTERACTION_COMPARISONS:
                diffs = [e[f"{key}_minus_random"] for e in entries]
                row[f"{key}_minus_random"] = _summary(diffs)
                row[f"{key}_test"] = stats.paired_test(diffs, exact_max_n).as_dict()
            rows.append(row)
    return rows


def interaction_verdict(difference: float, p, expected_sign: float,
                        level: float = VERDICT_LEVEL) -> str:
    """"yes" when the mean difference has the expected sign and p <= level, "no" when it
    has the other sign and p <= level, "undecided" otherwise (p n/a or above the level)."""
    if p is None or not np.isfinite(p) or p > level or not np.isfinite(difference) \
            or difference == 0:
        return "undecided"
    return "yes" if np.sign(difference) == expected_sign else "no"


def add_interaction_verdicts(rows: List[Dict], level: float = VERDICT_LEVEL):
    """Give each interaction row "verdict_redundant" (redundant pairs less harmful together
    than random ones) and "verdict_synergistic" (synergistic pairs more harmful together),
    from its BH-adjusted p (adjust_p_values must have run)."""
    for row in rows:
        for key, _, sign in INTERACTION_COMPARISONS:
            test = row[f"{key}_test"]
            row[f"verdict_{key}"] = interaction_verdict(row[f"{key}_minus_random"]["mean"],
                                                        test.get("p_bh"), sign, level)


# Families of tests for the multiple-comparison adjustment.
P_FAMILIES = ("report", "table")


def report_tests(t: Tables):
    """Every paired test of the report as (table kind, condition, test dict): gap to random
    (AUC table) and asc − desc, over the full range and each partial range, and the pair
    interaction's redundant − random and synergistic − random."""
    for kind, table, key in (("auc", t.auc, "gap_test"), ("asc_desc", t.asc_desc, "test")):
        for row in table:
            yield kind, row["condition"], row[key]
            for part in row.get("partial", {}).values():
                yield kind, row["condition"], part[key]
    for row in t.interaction:
        for key, _, _ in INTERACTION_COMPARISONS:
            yield "interaction", row["condition"], row[f"{key}_test"]


def adjust_p_values(t: Tables, family: str = "report") -> List[Dict]:
    """Add "p_holm", "p_bh" and "family" to every test of `report_tests`.

    family "report": one family of all tests with a p-value in the report (every condition,
    the AUC and asc − desc tables over full and partial ranges, and the pair-interaction
    table when there is one). "table": one family per displayed table, i.e.
    per (table kind, condition). Tests without a p-value (n/a) are not counted and get
    NaN. Returns (and stores in t.p_families) one record per family: name and size m.
    """
    if family not in P_FAMILIES:
        raise ValueError(f"family '{family}' is not one of {', '.join(P_FAMILIES)}")
    groups: Dict[str, List[Dict]] = {}
    for kind, cond, test in report_tests(t):
        name = "report" if family == "report" else f"{kind}/{cond}"
        groups.setdefault(name, []).append(test)
    records = []
    for name, tests in groups.items():
        p = np.array([np.nan if x["p"] is None else x["p"] for x in tests], dtype=float)
        holm, bh = stats.holm(p), stats.benjamini_hochberg(p)
        for x, h, b in zip(tests, holm, bh):
            x["p_holm"], x["p_bh"], x["family"] = float(h), float(b), name
        records.append({"family": name, "tests": int(np.count_nonzero(np.isfinite(p)))})
    t.p_families = records
    return records


def training_plane_rows(results: Results) -> List[Dict]:
    """Per condition, hidden layer and snapshot epoch: the information plane over training,
    each quantity summarised over the seeds that have that snapshot, and how many of them
    were saturated (binned H(T) >= 0.99 log2 N)."""
    rows = []
    for cond in results.conditions:
        planes = [(n, n.training_plane()) for n in cond.networks]
        planes = [(n, p) for n, p in planes if p is not None]
        if not planes:
            continue
        epochs = sorted({int(e) for _, p in planes for e in p.epochs})
        for k in range(max(p.layers for _, p in planes)):
            for e in epochs:
                at = [(n, p, int(np.flatnonzero(p.epochs == e)[0])) for n, p in planes
                      if k < p.layers and e in p.epochs]
                row = {"condition": cond.label, "layer": k, "epoch": e,
                       "seeds": [n.seed for n, _, _ in at],
                       "saturated": int(sum(bool(p.saturated[k][i]) for _, p, i in at)),
                       "samples": sorted({p.samples for _, p, _ in at if p.samples}),
                       "kde_noise_variance": sorted({p.kde_noise_variance for _, p, _ in at})}
                for q in ("binned_entropy", "binned_mutual_information", "kde_upper_xt",
                          "kde_upper_ty"):
                    row[q] = _summary([float(getattr(p, q)[k][i]) for _, p, i in at])
                rows.append(row)
    return rows


def absence_notes(results: Results) -> List[str]:
    """One line for each kind of content a condition lacks (so the report says so)."""
    notes = list(results.notes)
    for cond in results.conditions:
        nets = cond.networks
        total = len(nets)
        # Snapshots are optional (train.snapshots): noted only when some networks lack them.
        without = [n.name for n in nets if not n.has_training_plane]
        if without and len(without) < total:
            notes.append(f"{cond.label}: information plane over training absent in "
                         f"{', '.join(without)}: those networks are left out of its figure "
                         "and table")
        for has, what, consequence in (
                ("has_ablation", "ablation curves (/ablation)",
                 "no AUC table, curve or per-class figure"),
                ("has_single_neuron", "single-neuron damage (/single_neuron)",
                 "no Spearman table or damage scatter"),
                ("has_information_plane", "information plane (/information_plane)",
                 "left out of the information-plane figure"),
                ("has_measures", "measures (/measures)", "no distributions or Spearman")):
            if has == "has_information_plane" and getattr(results, "kind", "study") != "study":
                continue  # (only a study measures it: never in a measures or ablation file)
            missing = [n.name for n in nets if not getattr(n, has)]
            if missing:
                which = "all networks" if len(missing) == total else ", ".join(missing)
                notes.append(f"{cond.label}: {what} absent in {which}: {consequence}")
        none_random, customs = [], set()
        for scope in condition_scopes(cond):
            having = [n for n in nets if scope in n.scopes()]
            missing = [n.name for n in having if n.random(scope) is None]
            if missing and len(missing) == len(having):
                none_random.append(scope)
            elif missing:
                notes.append(f"{cond.label}: random curves of scope {scope} absent in "
                             f"{', '.join(missing)}: no gap to random there")
            customs.update(f"{scope}/{c}" for n in nets for c in n.custom_names(scope))
        if none_random:
            plural = "s" if len(none_random) > 1 else ""
            notes.append(f"{cond.label}: no random curves (scope{plural} "
                         f"{', '.join(none_random)}): no gap to random")
        if customs:
            notes.append(f"{cond.label}: custom orders skipped: {', '.join(sorted(customs))}")
    return notes


# -------------------------------------------------------------------------------------------
# Robustness to the measure setting (analysis/README.md, "Holds in k of K settings").

HOLDS_LEVEL = 0.05


class _SettingResults:
    """The parts of a `Results` the table functions read, with every network seen under one
    measure setting (networks without that setting left out)."""

    def __init__(self, results: Results, setting: str):
        self.notes: List[str] = []
        self.conditions: List[Condition] = []
        for cond in results.conditions:
            nets = [n.in_setting(setting) for n in cond.networks if setting in n.settings]
            if nets:
                self.conditions.append(Condition(cond.key, nets))


def _holds(mean: float, p, reference: float, level: float) -> bool:
    """Same sign as the reference (the first setting's mean, non-zero) and p < level."""
    return (p is not None and np.isfinite(p) and p < level and np.isfinite(mean)
            and np.isfinite(reference) and reference != 0 and np.sign(mean) == np.sign(reference))


def settings_holds(results: Results, level: float = HOLDS_LEVEL,
                   exact_max_n: int = stats.EXACT_MAX_N) -> Dict:
    """For every gap to random, ascending − descending difference and Spearman correlation
    of the report: in how many of the K measure settings it holds (same sign as under the
    first setting, whose values the report shows, and p < level in that setting's paired
    test across seeds; for Spearman the test is of the per-seed rho against 0).

    Returns {"settings": [...], "level": level, "gap": {(condition, scope, quantity,
    direction): k}, "asc_desc": {(condition, scope, quantity): k}, "spearman": {(condition,
    quantity, scope): k}}; K = len(settings)."""
    names = results.settings
    per: List[Dict] = []
    for setting in names:
        view = _SettingResults(results, setting) if setting != names[0] else results
        auc, _ = auc_rows(view, exact_max_n)
        gap = {(r["condition"], r["scope"], r["quantity"], r["direction"]):
               (r["gap"]["mean"], r["gap_test"]["p"]) for r in auc}
        asc = {(r["condition"], r["scope"], r["quantity"]):
               (r["difference"]["mean"], r["test"]["p"]) for r in asc_desc_rows(auc, exact_max_n)}
        rho = {}
        for r in spearman_rows(view):
            rhos = [e["rho"] for e in r["per_seed"]]
            rho[(r["condition"], r["quantity"], r["scope"])] = (
                r["rho"]["mean"], stats.paired_test(rhos, exact_max_n).p)
        per.append({"gap": gap, "asc_desc": asc, "spearman": rho})
    out: Dict = {"settings": names, "level": level}
    for kind in ("gap", "asc_desc", "spearman"):
        counts = {}
        for key, (reference, _) in (per[0][kind].items() if per else []):
            counts[key] = sum(_holds(p[kind][key][0], p[kind][key][1], reference, level)
                              for p in per if key in p[kind])
        out[kind] = counts
    return out


def compute(results: Results, exact_max_n: int = stats.EXACT_MAX_N,
            p_family: str = "report") -> Tables:
    auc, random_auc = auc_rows(results, exact_max_n)
    add_partial_auc(results, auc, random_auc, PARTIAL_FRACTIONS, exact_max_n)
    asc_desc = asc_desc_rows(auc, exact_max_n)
    add_partial_asc_desc(auc, asc_desc, exact_max_n)
    t = Tables(overview=overview_rows(results), spearman=spearman_rows(results),
               auc=auc, random_auc=random_auc, asc_desc=asc_desc,
               notes=absence_notes(results),
               holds=settings_holds(results, exact_max_n=exact_max_n),
               interaction=interaction_rows(results, exact_max_n),
               training_plane=training_plane_rows(results))
    adjust_p_values(t, p_family)
    add_interaction_verdicts(t.interaction)
    return t
