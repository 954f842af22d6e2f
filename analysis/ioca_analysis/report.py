"""Assembling the report: index.html, summary.md, tables.json and the terminal summary."""

from __future__ import annotations

import html
import json
import math
import os
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from . import __version__, stats
from .results import PAIR_GROUPS, SATURATION, Results, scope_sort_key
from .tables import PARTIAL_FRACTIONS, VERDICT_LEVEL, Tables, compute, fraction_key

DEFAULT_PER_CLASS_ORDER = ("network", "mutual_information", "descending")


@dataclass
class Options:
    per_class_order: Tuple[str, str, str] = DEFAULT_PER_CLASS_ORDER
    per_class_seed: Optional[int] = None
    exact_max_n: int = stats.EXACT_MAX_N
    p_family: str = "report"
    band: str = "auto"              # stats.BANDS: the band over seeds around mean curves
    formats: Tuple[str, ...] = ("png", "svg")   # figure files; PNG first (shown in the page)


@dataclass
class DisplayTable:
    """A table ready to print: a title, a caption, header cells and rows of strings."""
    kind: str
    title: str
    columns: List[str]
    rows: List[List[str]]
    condition: Optional[str] = None
    caption: str = ""


# -------------------------------------------------------------------------------------------
# Number formatting.

def _finite(x) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def fmt_num(x, digits=3, signed=False) -> str:
    if not _finite(x):
        return "n/a"
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"


def fmt_mean_sd(summary, digits=3, signed=False) -> str:
    if summary["n"] == 0 or not _finite(summary["mean"]):
        return "n/a"
    text = fmt_num(summary["mean"], digits, signed)
    if summary["n"] > 1 and _finite(summary["sd"]):
        text += f" ± {summary['sd']:.{digits}f}"
    return text


def fmt_p(p) -> str:
    if not _finite(p):
        return "n/a"
    if p < 1e-4:
        return f"{p:.1e}"
    return f"{p:.3g}" if p < 0.1 else f"{p:.2f}"


def jsonable(obj):
    """Replace NaN/inf by None (strict JSON) and tuples by lists, recursively."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):
        try:
            return jsonable(obj.item())
        except (TypeError, ValueError):
            return str(obj)
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return str(obj)


# -------------------------------------------------------------------------------------------
# Captions (one short paragraph per table kind).

CAPTIONS = {
    "overview": "One row per condition (data set, activation, hidden widths); networks that "
                "differ only in seed are replicates. Test accuracy is the intact network's, "
                "mean ± sd over seeds.",
    "spearman": "Spearman rank correlation ρ between each per-neuron quantity and its "
                "single-neuron damage (test-accuracy drop when that neuron alone is ablated), "
                "within each hidden layer and pooled over all hidden neurons (network). Each "
                "cell: mean ± sd over seeds, (n) = seeds. ρ > 0: higher values mark more "
                "important neurons. The paper expects ρ > 0 for mutual information and KL "
                "selectivity within a layer, and little predictive value of selectivity when "
                "layers are pooled.",
    "auc": "Normalised area under each cumulative-ablation curve: trapezoid of test accuracy "
           "(fraction) over x = neurons ablated / n ∈ [0, 1], so it lies in [0, 1] (1: no "
           "accuracy lost at any point). Mean ± sd over seeds. Gap = AUC − mean AUC of the "
           "random orders of the same network: negative means the order removes important "
           "neurons sooner than chance (expected for descending orders of a good importance "
           "measure), positive later. p: two-sided paired test across seeds of gap = 0 "
           "(test and n shown), with Holm and Benjamini–Hochberg (BH) adjusted p beside it. "
           "Rows 'random' give the random AUC itself. The columns marked 0–50% and 0–25% "
           "repeat AUC, gap and p over the first 50% and 25% of the ablations only: the "
           "mean accuracy over x ∈ [0, f] (area over [0, f] divided by f, so on the same "
           "scale as the full AUC), interpolated at x = f when no recorded step lands there. "
           "They separate the early regime, where few neurons are gone, from the late one.",
    "asc_desc": "AUC(ascending) − AUC(descending) per quantity and scope, paired by seed, mean "
                "± sd. Positive: removing low-valued neurons first hurts less than removing "
                "high-valued neurons first, i.e. the quantity ranks importance. A small "
                "difference for a quantity that predicts single-neuron damage points to "
                "redundancy (neurons can stand in for one another, so order matters late); a "
                "negative one to synergy (neurons that matter only jointly). p: two-sided "
                "paired test across seeds of difference = 0, with Holm and BH adjusted p. The "
                "0–50% and 0–25% columns give the same over the first 50% and 25% of the "
                "ablations (partial AUCs as in the AUC table).",
    "interaction": "Pairs of neurons of one hidden layer ablated together: the pairs of "
                   "largest redundancy, the pairs of largest synergy (of the decomposition of "
                   "I(Ti,Tj;Y)) and pairs drawn at random. Interaction = damage({i,j}) − "
                   "damage({i}) − damage({j}), damage = test-accuracy drop, in percentage "
                   "points: > 0, the pair together costs more than its neurons apart; < 0, "
                   "less. Per seed, the mean interaction of each group's pairs; cells: mean ± "
                   "sd over seeds. Redundant − random and synergistic − random are paired by "
                   "seed, with a two-sided paired test and Holm and BH adjusted p (in the "
                   f"report's families). Verdicts, at level {VERDICT_LEVEL:g} on the "
                   "BH-adjusted p: 'redundant less harmful together' is yes when the redundant "
                   "pairs' interaction is significantly below the random pairs', no when "
                   "significantly above, undecided otherwise; 'synergistic more harmful "
                   "together' is yes when the synergistic pairs' is significantly above the "
                   "random pairs', no when below. (Neurons that stand in for each other lose "
                   "little apart and much together, which gives interaction > 0: that reading "
                   "of redundancy expects 'no' in the first verdict.)",
    "training_plane": "The information plane over training (train.snapshots): per hidden "
                      "layer and snapshot epoch (0 = before training), mean ± sd over seeds "
                      "(n) of I(X;T) and I(T;Y) of the binned layer vector and of the "
                      "Kolchinsky–Tracey KDE upper bound at noise variance s² (its I(T;Y) is "
                      "the difference of two such bounds, as in Saxe et al. 2018), in bits. "
                      "'saturated' counts the seeds whose binned H(T) ≥ 0.99 log2 N (N = "
                      "samples measured): there the binned estimate is pinned near log2 N "
                      "by the sample size, whatever the layer does.",
}
P_NOTE = ("p-values are two-sided. With n seeds the exact sign-flip test (used for "
          "2 ≤ n ≤ {m}; Wilcoxon signed-rank above) cannot go below 2/2^n: 0.5 for n = 2, "
          "0.25 for n = 3, 0.0625 for n = 5. n = 1 gives n/a. Columns p are unadjusted; "
          "'Holm' is Holm's step-down adjustment (controls the family-wise error rate) and "
          "'BH' the Benjamini–Hochberg step-up adjustment (controls the false discovery "
          "rate); an adjusted p ≤ α marks the tests the procedure rejects at level α.")
FAMILY_NOTE = {
    "report": "Family: all {m} tests with a p-value in this report, one family — every "
              "condition, both the gap-to-random and the asc − desc tables, full range and "
              "first 50% and 25% (--p-family report).",
    "table": "Family: each displayed table is one family — the gap-to-random tests of one "
             "condition (all scopes, quantities, directions and ranges), or its asc − desc "
             "tests ({m} tests in {k} families; --p-family table).",
}


def p_note(t: Tables, options: Options) -> str:
    m = sum(f["tests"] for f in t.p_families)
    family = FAMILY_NOTE[options.p_family].format(m=m, k=len(t.p_families))
    if t.interaction:
        family += (" The pair-interaction tests (redundant − random, synergistic − random) "
                   "belong to the family too" + (" of their own table." if options.p_family ==
                                                 "table" else "."))
    return P_NOTE.format(m=options.exact_max_n) + " " + family + (
        " Tests without a p-value (n/a) are not counted.")


def _range_label(f: float) -> str:
    return f"0–{100 * f:g}%"


def _pp(summary) -> str:
    """A summary of accuracy fractions in percentage points, signed, mean ± sd."""
    scaled = {"mean": 100 * summary["mean"], "sd": 100 * summary["sd"], "n": summary["n"]}
    return fmt_mean_sd(scaled, 3, True)


def _p_cells(test) -> List[str]:
    """Raw, Holm and BH p of a test dict (n/a where absent)."""
    return [fmt_p(test.get("p")), fmt_p(test.get("p_holm")), fmt_p(test.get("p_bh"))]


HOLDS_COLUMN = "holds in k of K settings"
HOLDS_NOTE = ("'holds in k of K settings': in how many of the study's K measure settings "
              "(binning x bins x estimator) the value has the same sign as the one shown (the "
              "first setting's) and p < {level} in that setting's test across seeds (for ρ: "
              "the per-seed ρ tested against 0). Quantities that do not depend on the binning "
              "have the same values in every setting. Settings: {settings}.")


def holds_note(t: Tables) -> str:
    holds = t.holds or {}
    return HOLDS_NOTE.format(level=holds.get("level", 0.05),
                             settings=", ".join(holds.get("settings", [])) or "one")


def fmt_holds(t: Tables, kind: str, key) -> str:
    """k/K of one gap, difference or correlation ("" when not computed)."""
    holds = t.holds or {}
    k = holds.get(kind, {}).get(key)
    if k is None:
        return ""
    return f"{k}/{len(holds.get('settings', [])) or 1}"


# -------------------------------------------------------------------------------------------
# Display tables.

def display_tables(t: Tables) -> List[DisplayTable]:
    out: List[DisplayTable] = []
    rows = []
    for o in t.overview:
        seeds = ", ".join(str(s) for s in o["seeds"])
        rows.append([o["condition"], str(len(o["networks"])), seeds,
                     fmt_mean_sd(o["test_accuracy"], 4), ", ".join(o["scopes"]) or "none",
                     str(o["random_repeats"]) if o["random_repeats"] is not None else "none",
                     f"{o['with_single_neuron']}/{len(o['networks'])}",
                     f"{o['with_information_plane']}/{len(o['networks'])}"])
    out.append(DisplayTable("overview", "Conditions",
                            ["condition", "networks", "seeds", "test accuracy", "scopes",
                             "random R", "single-neuron", "info plane"], rows,
                            caption=CAPTIONS["overview"]))
    conditions = [o["condition"] for o in t.overview]
    for cond in conditions:
        rows_c = [r for r in t.spearman if r["condition"] == cond]
        if rows_c:
            scopes = sorted({r["scope"] for r in rows_c}, key=scope_sort_key)
            quantities = []
            for r in rows_c:
                if r["quantity"] not in quantities:
                    quantities.append(r["quantity"])
            cell = {(r["quantity"], r["scope"]): r["rho"] for r in rows_c}
            rows = []
            for q in quantities:
                row = [q]
                for s in scopes:
                    summ = cell.get((q, s))
                    row.append("n/a" if summ is None or summ["n"] == 0 else
                               f"{fmt_mean_sd(summ, 2, True)} ({summ['n']})")
                row.append(", ".join(fmt_holds(t, "spearman", (cond, q, s)) or "n/a"
                                     for s in scopes))
                rows.append(row)
            out.append(DisplayTable("spearman", f"Spearman ρ with single-neuron damage — {cond}",
                                    ["quantity"] + scopes + [
                                        f"{HOLDS_COLUMN} ({', '.join(scopes)})"],
                                    rows, cond, CAPTIONS["spearman"]))
    for cond in conditions:
        rows_c = [r for r in t.auc if r["condition"] == cond]
        rand = {r["scope"]: r for r in t.random_auc if r["condition"] == cond}
        scopes = sorted({r["scope"] for r in rows_c} | set(rand), key=scope_sort_key)
        rows = []
        for s in scopes:
            if s in rand:
                r = rand[s]
                reps = sorted({e["repeats"] for e in r["per_seed"]})
                row = [s, "random", f"R={'/'.join(str(x) for x in reps)}",
                       str(r["auc"]["n"]), fmt_mean_sd(r["auc"], 4), "", "", "", "", ""]
                for f in PARTIAL_FRACTIONS:
                    part = r.get("partial", {}).get(fraction_key(f))
                    row += [fmt_mean_sd(part["auc"], 4) if part else "n/a", "", "", "", ""]
                rows.append(row + [""])
            for r in rows_c:
                if r["scope"] != s:
                    continue
                test = r["gap_test"]
                row = [s, r["quantity"], r["direction"], str(r["auc"]["n"]),
                       fmt_mean_sd(r["auc"], 4), fmt_mean_sd(r["gap"], 4, True),
                       test["test"] if r["gap"]["n"] else "n/a"] + _p_cells(test)
                for f in PARTIAL_FRACTIONS:
                    part = r.get("partial", {}).get(fraction_key(f))
                    if part is None:
                        row += ["n/a"] * 5
                        continue
                    row += [fmt_mean_sd(part["auc"], 4), fmt_mean_sd(part["gap"], 4, True)]
                    row += _p_cells(part["gap_test"])
                row.append(fmt_holds(t, "gap", (cond, s, r["quantity"], r["direction"])))
                rows.append(row)
        if rows:
            out.append(DisplayTable("auc", f"Area under the ablation curves — {cond}",
                                    ["scope", "quantity", "direction", "n", "AUC",
                                     "gap to random", "test", "p", "Holm", "BH"]
                                    + [c + " " + _range_label(f) for f in PARTIAL_FRACTIONS
                                       for c in ("AUC", "gap", "p", "Holm", "BH")]
                                    + [HOLDS_COLUMN],
                                    rows, cond, CAPTIONS["auc"]))
    for cond in conditions:
        rows_c = [r for r in t.asc_desc if r["condition"] == cond]
        rows = []
        for r in sorted(rows_c, key=lambda r: scope_sort_key(r["scope"])):
            row = [r["scope"], r["quantity"], str(r["difference"]["n"]),
                   fmt_mean_sd(r["difference"], 4, True), r["test"]["test"]]
            row += _p_cells(r["test"])
            for f in PARTIAL_FRACTIONS:
                part = r.get("partial", {}).get(fraction_key(f))
                if part is None:
                    row += ["n/a"] * 4
                    continue
                row += [fmt_mean_sd(part["difference"], 4, True)] + _p_cells(part["test"])
            row.append(fmt_holds(t, "asc_desc", (cond, r["scope"], r["quantity"])))
            rows.append(row)
        if rows:
            out.append(DisplayTable("asc_desc", f"Ascending − descending AUC — {cond}",
                                    ["scope", "quantity", "n", "AUC asc − desc", "test", "p",
                                     "Holm", "BH"]
                                    + [c + " " + _range_label(f) for f in PARTIAL_FRACTIONS
                                       for c in ("asc − desc", "p", "Holm", "BH")]
                                    + [HOLDS_COLUMN],
                                    rows, cond, CAPTIONS["asc_desc"]))
    for cond in conditions:
        rows = []
        for r in [r for r in t.interaction if r["condition"] == cond]:
            counts = sorted({e["pairs"][g] for e in r["per_seed"] for g in PAIR_GROUPS})
            row = [f"layer{r['layer']}", str(r["redundant_minus_random"]["n"]),
                   "/".join(str(c) for c in counts) or "n/a"]
            row += [_pp(r["accuracy_interaction"][g]) for g in PAIR_GROUPS]
            row += [_pp(r["redundant_minus_random"]), r["redundant_test"]["test"]]
            row += _p_cells(r["redundant_test"])
            row += [_pp(r["synergistic_minus_random"])] + _p_cells(r["synergistic_test"])
            row += [r["verdict_redundant"], r["verdict_synergistic"]]
            rows.append(row)
        if rows:
            out.append(DisplayTable("interaction", f"Pair ablation interaction — {cond}",
                                    ["layer", "n", "pairs per group", "redundant [pp]",
                                     "synergistic [pp]", "random [pp]",
                                     "redundant − random [pp]", "test", "p", "Holm", "BH",
                                     "synergistic − random [pp]", "p", "Holm", "BH",
                                     "redundant less harmful together",
                                     "synergistic more harmful together"],
                                    rows, cond, CAPTIONS["interaction"]))
        rows = []
        for r in (r for r in t.training_plane if r["condition"] == cond):
            rows.append([f"layer{r['layer']}", str(r["epoch"]),
                         str(r["binned_entropy"]["n"]),
                         fmt_mean_sd(r["binned_entropy"], 3),
                         fmt_mean_sd(r["binned_mutual_information"], 3),
                         f"{r['saturated']}/{r['binned_entropy']['n']}",
                         fmt_mean_sd(r["kde_upper_xt"], 3), fmt_mean_sd(r["kde_upper_ty"], 3),
                         "/".join(str(x) for x in r["samples"]) or "n/a",
                         "/".join(f"{x:g}" for x in r["kde_noise_variance"]) or "n/a"])
        if rows:
            out.append(DisplayTable("training_plane", f"Information plane over training — {cond}",
                                    ["layer", "epoch", "n", "binned I(X;T)", "binned I(T;Y)",
                                     "saturated", "KDE I(X;T) ≤", "KDE I(T;Y)", "N", "s²"],
                                    rows, cond, CAPTIONS["training_plane"]))
    return out


def render_text(table: DisplayTable) -> str:
    cells = [table.columns] + table.rows
    widths = [max(len(r[i]) for r in cells) for i in range(len(table.columns))]
    lines = [table.title, "-" * len(table.title)]
    for j, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(table: DisplayTable) -> str:
    lines = ["| " + " | ".join(_md_cell(c) for c in table.columns) + " |",
             "|" + "|".join(" --- " for _ in table.columns) + "|"]
    for row in table.rows:
        lines.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
    return "\n".join(lines)


def render_html(table: DisplayTable) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    body = "\n".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                     for row in table.rows)
    return (f'<div class="scroll"><table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n'
            "</tbody>\n</table></div>")


# -------------------------------------------------------------------------------------------

KIND_TEXT = {"study": "study results", "measures": "measures file (ioca measure --out)",
             "ablation": "ablation file (ioca ablate --out)"}


def _header_lines(results: Results) -> List[Tuple[str, str]]:
    a = results.attrs
    commit = str(a.get("git_commit") or "not recorded")
    if results.kind == "study":
        complete = {1: "yes", 0: "no (checkpoint)"}.get(results.complete, "not recorded")
        return [("file", results.path), ("study", results.study_name or "(unnamed)"),
                ("results format", str(results.format_version)), ("complete", complete),
                ("networks", str(len(results.networks))),
                ("conditions", str(len(results.conditions))),
                ("ioca version", str(a.get("ioca_version", "?"))), ("git commit", commit)]
    net = results.networks[0]
    lines = [("file", results.path), ("kind", KIND_TEXT[results.kind]),
             ("format", str(results.format_version)), ("network", net.name),
             ("condition", results.conditions[0].label),
             ("model", str(a.get("model") or "not recorded"))]
    if results.kind == "ablation":
        lines.append(("measures", str(a.get("measures") or "not recorded")))
    lines += [("data set", str(a.get("dataset") or net.dataset)),
              ("ioca version", str(a.get("ioca_version", "?"))), ("git commit", commit)]
    return lines


# -------------------------------------------------------------------------------------------
# The summary at the top: warnings and one line of key numbers per condition.

def saturation_warnings(results: Results, t: Tables) -> List[str]:
    """One line per condition whose binned information plane is saturated (H(T) within 1%
    of log2 N, N the samples measured): after training, or at snapshots over training."""
    out = []
    for cond in results.conditions:
        sat = total = 0
        samples = set()
        for net in cond.networks:
            flags = net.information_plane_saturated()
            if flags is not None:
                sat += int(flags.sum())
                total += flags.size
                samples.add(net.attrs.get("measure_samples"))
        if sat:
            n = "/".join(str(x) for x in sorted(samples))
            out.append(f"{cond.label}: information plane saturated in {sat} of {total} "
                       f"layers (binned H(T) ≥ {SATURATION:g} log2 N, N = {n})")
        rows = [r for r in t.training_plane if r["condition"] == cond.label]
        hit = [r for r in rows if r["saturated"]]
        if hit:
            out.append(f"{cond.label}: information plane over training saturated at "
                       f"{len(hit)} of {len(rows)} layer snapshots (crosses in its figure)")
    return out


SATURATION_TEXT = ("A binned H(T) within 1% of log2 N (N the samples measured) means nearly "
                   "every sample has a bin pattern of its own: H(T) and I(T;Y) then reflect "
                   "the sample size, not the layer. Fewer bins or binary binning "
                   "(measure.bins, measure.binning; train.snapshot_bins) bring out structure.")


def glance_rows(t: Tables) -> List[List[str]]:
    """Per condition: networks, test accuracy, the quantity whose descending order loses
    accuracy soonest against random (most negative gap in the key scope) and the quantity
    best correlated with single-neuron damage (network scope)."""
    rows = []
    for o in t.overview:
        cond = o["condition"]
        scopes = [r["scope"] for r in t.auc if r["condition"] == cond]
        key = "network" if "network" in scopes else (max(scopes, key=scope_sort_key)
                                                      if scopes else None)
        gaps = [r for r in t.auc if r["condition"] == cond and r["scope"] == key
                and r["direction"] == "descending" and _finite(r["gap"]["mean"])]
        best = min(gaps, key=lambda r: r["gap"]["mean"]) if gaps else None
        rhos = [r for r in t.spearman if r["condition"] == cond and r["scope"] == "network"
                and _finite(r["rho"]["mean"])]
        top = max(rhos, key=lambda r: r["rho"]["mean"]) if rhos else None
        rows.append([
            cond, str(len(o["networks"])), fmt_mean_sd(o["test_accuracy"], 4),
            (f"{best['quantity']} ({key}): gap {fmt_mean_sd(best['gap'], 3, True)}, "
             f"p {fmt_p(best['gap_test'].get('p'))}") if best else "n/a",
            f"{top['quantity']}: ρ {fmt_mean_sd(top['rho'], 2, True)}" if top else "n/a"])
    return rows


GLANCE_COLUMNS = ["condition", "networks", "test accuracy",
                  "fastest descending order vs random (AUC gap)",
                  "best predictor of single-neuron damage (Spearman ρ)"]
GLANCE_CAPTION = ("Mean ± sd over seeds. Gap: AUC of the descending order minus the random "
                  "orders' AUC (negative: that order removes important neurons sooner than "
                  "chance), in the network scope (else the last scope), with its unadjusted "
                  "paired p; ρ: Spearman correlation of the quantity with single-neuron "
                  "damage over all hidden neurons. Tables below give every value.")


def measures_table(results: Results) -> Optional[DisplayTable]:
    """Single files: each per-neuron quantity per hidden layer, summarised over neurons."""
    if results.kind == "study":
        return None
    net = results.networks[0]
    rows = []
    for k in net.measure_layers():
        for q in net.measure_names(k):
            v = net.measure(k, q)
            v = v[np.isfinite(v)] if v is not None else np.zeros(0)
            if not v.size:
                continue
            rows.append([f"layer{k}", q, str(v.size), fmt_num(float(v.mean())),
                         fmt_num(float(v.std(ddof=1)) if v.size > 1 else float("nan")),
                         fmt_num(float(v.min())), fmt_num(float(np.median(v))),
                         fmt_num(float(v.max()))])
    if not rows:
        return None
    return DisplayTable("measures", f"Per-neuron measures — {net.name}",
                        ["layer", "quantity", "neurons", "mean", "sd", "min", "median", "max"],
                        rows, None, "Each per-neuron quantity of the measures file over the "
                        "neurons of each hidden layer (bits for information quantities; sd "
                        "with ddof 1).")


def _grouped(dts: List[DisplayTable], kind: str) -> List[DisplayTable]:
    return [d for d in dts if d.kind == kind]


# The report's sections in order; "interaction" only where a network has pair_interaction.
KINDS = ("overview", "spearman", "auc", "asc_desc", "interaction", "training_plane")
SECTION_TITLES = {"overview": "Conditions", "spearman": "Spearman ρ with single-neuron damage",
                  "auc": "Area under the ablation curves",
                  "asc_desc": "Ascending − descending AUC",
                  "interaction": "Redundancy, synergy and ablation interaction",
                  "training_plane": "Information plane over training"}


def _measures_tables(results: Results) -> List[DisplayTable]:
    m = measures_table(results)
    return [m] if m else []


def summary_text(results: Results, t: Tables, options: Options = Options()) -> str:
    dts = display_tables(t)
    parts = ["ioca results summary", "===================="]
    parts += [f"{k:15} {v}" for k, v in _header_lines(results)]
    warnings = saturation_warnings(results, t)
    if warnings:
        parts += ["", "Warnings: " + SATURATION_TEXT] + [f"  ! {w}" for w in warnings]
    if t.notes:
        parts += ["", "Notes (absent content is skipped):"] + [f"  - {n}" for n in t.notes]
    parts += ["", render_text(DisplayTable("glance", "At a glance", GLANCE_COLUMNS,
                                           glance_rows(t)))]
    for d in _measures_tables(results):
        parts += ["", render_text(d)]
    for kind in KINDS:
        for d in _grouped(dts, kind):
            parts += ["", render_text(d)]
    parts += ["", p_note(t, options), holds_note(t)]
    return "\n".join(parts) + "\n"


def summary_markdown(results: Results, t: Tables, figs, options: Options) -> str:
    dts = display_tables(t)
    parts = ["# ioca results report", ""]
    parts += [f"- **{k}**: {v}" for k, v in _header_lines(results)]
    warnings = saturation_warnings(results, t)
    if warnings:
        parts += ["", "## Warnings", "", SATURATION_TEXT, ""] + [f"- **{w}**" for w in warnings]
    parts += ["", "## At a glance", "", render_markdown(
        DisplayTable("glance", "At a glance", GLANCE_COLUMNS, glance_rows(t))), "",
        GLANCE_CAPTION]
    if t.notes:
        parts += ["", "## Notes", ""] + [f"- {n}" for n in t.notes]
    for d in _measures_tables(results):
        parts += ["", f"## {d.title}", "", d.caption, "", render_markdown(d)]
    for kind in KINDS:
        group = _grouped(dts, kind)
        if not group:
            continue
        parts += ["", f"## {SECTION_TITLES[kind]}", "", CAPTIONS[kind]]
        for d in group:
            if d.condition:
                parts += ["", f"### {d.condition}"]
            parts += ["", render_markdown(d)]
    parts += ["", p_note(t, options), "", holds_note(t)]
    if figs:
        parts += ["", "## Figures", ""] + [
            f"- [{f.title}]({f.file})" + "".join(f" ([{x.rsplit('.', 1)[-1].upper()}]({x}))"
                                                 for x in f.files[1:]) for f in figs]
    return "\n".join(parts) + "\n"


CSS = """
body { font-family: system-ui, sans-serif; margin: 1.2em auto; max-width: 1300px; color: #222;
       line-height: 1.45; padding: 0 1em; }
h1 { border-bottom: 2px solid #444; margin-bottom: 0.3em; }
h2 { border-bottom: 1px solid #aaa; margin-top: 2em; } h2#summary { margin-top: 0.8em; }
div.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 0.6em 0 1.4em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; white-space: nowrap; }
th { background: #eee; } tbody tr:nth-child(even) { background: #f8f8f8; }
table.glance td { white-space: normal; }
p.caption { max-width: 60em; color: #333; }
p.meta { color: #444; font-size: 0.92em; margin: 0.2em 0 0.8em; }
p.meta b { color: #222; }
figure { margin: 1em 0 2.2em; } figure img { max-width: 100%; border: 1px solid #ddd; }
figure.key img { max-width: 100%; }
figcaption { max-width: 60em; font-size: 0.92em; color: #333; }
.warning { border: 2px solid #b00020; background: #fff3f3; color: #7a0015; padding: 0.5em 1em;
           margin: 0.8em 0; border-radius: 4px; }
.warning ul { margin: 0.2em 0; padding-left: 1.2em; }
.notes li { color: #7a4b00; } dl.meta dt { font-weight: bold; float: left; width: 9em; }
dl.meta dd { margin-left: 10em; }
pre.config { background: #f6f6f6; border: 1px solid #ddd; padding: 0.6em; overflow-x: auto;
             font-size: 0.85em; }
nav { font-size: 0.92em; }
"""

# Figures shown in the summary at the top, in this order.
KEY_KINDS = ("summary", "information_plane", "training_plane")


def _figure_html(f, css_class: str = "") -> str:
    e = html.escape
    links = " · ".join(f'<a href="{e(x)}">{e(x.rsplit(".", 1)[-1].upper())}</a>'
                       for x in (f.files or [f.file]))
    cls = f' class="{css_class}"' if css_class else ""
    return (f'<figure{cls}><img src="{e(f.file)}" alt="{e(f.title)}">'
            f"<figcaption><b>{e(f.title)}.</b> {e(f.caption)} <small>({links})</small>"
            "</figcaption></figure>")


def _provenance(results: Results) -> List[Tuple[str, str]]:
    """Root attributes other than the config text, as (name, value) rows."""
    skip = {"study_config"}
    return [(k, str(v)) for k, v in sorted(results.attrs.items()) if k not in skip]


def report_html(results: Results, t: Tables, figs, options: Options) -> str:
    dts = display_tables(t)
    e = html.escape
    name = results.study_name or os.path.basename(results.path)
    a = results.attrs
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>ioca report — {e(name)}</title>", f"<style>{CSS}</style></head><body>",
           f"<h1>ioca report — {e(name)}</h1>"]
    # One line of what this is: kind, size, version and commit (details at the end).
    commit = str(a.get("git_commit") or "not recorded")
    seeds = sorted({len(c.networks) for c in results.conditions})
    out.append(f'<p class="meta"><b>{e(KIND_TEXT[results.kind])}</b> · {e(results.path)} · '
               f"{len(results.networks)} network{'s' if len(results.networks) != 1 else ''}, "
               f"{len(results.conditions)} condition{'s' if len(results.conditions) != 1 else ''}"
               f", {'/'.join(str(n) for n in seeds)} seed{'s' if seeds != [1] else ''} each · "
               f"ioca {e(str(a.get('ioca_version', '?')))} · commit <code>{e(commit)}</code>"
               + ("" if results.complete != 0 else " · <b>checkpoint (incomplete)</b>")
               + "</p>")
    toc = [("summary", "Summary"), ("figures", "Figures"), ("tables", "Tables")]
    if t.notes:
        toc.append(("notes", "Notes"))
    toc.append(("config", "Config and provenance"))
    out.append("<nav>Contents: " + " · ".join(f'<a href="#{k}">{e(v)}</a>' for k, v in toc)
               + "</nav>")
    # --- Summary: warnings, key figures, key numbers.
    out.append('<h2 id="summary">Summary</h2>')
    warnings = saturation_warnings(results, t)
    if warnings:
        out.append('<div class="warning" id="warnings"><b>Warning: saturated information '
                   f"plane.</b> {e(SATURATION_TEXT)}<ul>"
                   + "".join(f"<li>{e(w)}</li>" for w in warnings) + "</ul></div>")
    key = [f for kind in KEY_KINDS for f in figs if f.kind == kind]
    for f in key:
        out.append(_figure_html(f, "key"))
    if not key:
        out.append("<p><em>No summary figure: the file holds no ablation curves and no "
                   "information plane (per-layer figures follow).</em></p>")
    out.append(render_html(DisplayTable("glance", "At a glance", GLANCE_COLUMNS,
                                        glance_rows(t))).replace("<table>",
                                                                 '<table class="glance">', 1))
    out.append(f'<p class="caption">{e(GLANCE_CAPTION)} Bands over seeds in the curve '
               f"figures: {e(_band_text(results, options))}.</p>")
    # --- Figures, grouped by condition.
    out.append('<h2 id="figures">Figures</h2>')
    rest = [f for f in figs if f.kind not in KEY_KINDS]
    if not rest:
        out.append("<p><em>No further figures.</em></p>")
    last = object()
    for f in rest:
        if f.condition != last:
            out.append(f"<h3>{e(f.condition or 'All conditions')}</h3>")
            last = f.condition
        out.append(_figure_html(f))
    # --- Tables.
    out.append('<h2 id="tables">Tables</h2>')
    for d in _measures_tables(results):
        out.append(f"<h3>{e(d.title)}</h3>")
        out.append(f'<p class="caption">{e(d.caption)}</p>')
        out.append(render_html(d))
    sections = [("conditions", "Conditions")] + [(k, SECTION_TITLES[k]) for k in KINDS[1:4]]
    if _grouped(dts, "interaction"):  # (no section at all without pairwise ablation)
        sections.append(("interaction", SECTION_TITLES["interaction"]))
    if t.training_plane:  # only in studies with snapshots
        sections.append(("training_plane", SECTION_TITLES["training_plane"]))
    out.append("<p>Tables: " + " · ".join(
        f'<a href="#{k}">{e(v)}</a>' for k, v in sections) + "</p>")
    for kind, heading in sections:
        group = _grouped(dts, kind if kind != "conditions" else "overview")
        out.append(f'<h3 id="{kind}">{e(heading)}</h3>')
        caption = CAPTIONS["overview" if kind == "conditions" else kind]
        out.append(f'<p class="caption">{e(caption)}</p>')
        if not group:
            out.append("<p><em>Not available in this file (see Notes).</em></p>")
        for d in group:
            if d.condition:
                out.append(f"<h4>{e(d.condition)}</h4>")
            out.append(render_html(d))
    out.append(f'<p class="caption">{e(p_note(t, options))}</p>')
    out.append(f'<p class="caption">{e(holds_note(t))}</p>')
    if t.notes:
        out.append('<h2 id="notes">Notes</h2><ul class="notes">')
        out += [f"<li>{e(n)}</li>" for n in t.notes]
        out.append("</ul>")
    # --- Config and provenance.
    out.append('<h2 id="config">Config and provenance</h2><dl class="meta">')
    out += [f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in _header_lines(results)]
    out.append("</dl>")
    config = a.get("study_config")
    if config:
        out.append("<h3>Study config (as recorded in the file, every key resolved)</h3>")
        out.append(f'<pre class="config">{e(str(config))}</pre>')
    out.append("<h3>Root attributes</h3>")
    out.append(render_html(DisplayTable("attributes", "Root attributes", ["attribute", "value"],
                                        [[k, v] for k, v in _provenance(results)])))
    out.append(f"<p><small>ioca_analysis {e(__version__)}</small></p></body></html>")
    return "\n".join(out) + "\n"


def _band_text(results: Results, options: Options) -> str:
    seeds = sorted({len(c.networks) for c in results.conditions})
    used = sorted({stats.resolve_band(options.band, n) for n in seeds if n > 1})
    if not used:
        return "none (one seed per condition)"
    text = "; ".join(stats.BAND_TEXT[b] for b in used)
    return text + (f" (--band {options.band}" + (
        f": min–max below {stats.AUTO_MINMAX_BELOW} seeds, 95% CI from there on)"
        if options.band == "auto" else ")"))


def tables_json(results: Results, t: Tables, figs, options: Options) -> dict:
    return jsonable({
        "generator": f"ioca_analysis {__version__}",
        "file": results.path, "study_name": results.study_name,
        "results_format": results.format_version, "complete": results.complete,
        "attributes": results.attrs,
        "options": {"per_class_order": list(options.per_class_order),
                    "per_class_seed": options.per_class_seed,
                    "exact_max_n": options.exact_max_n, "p_family": options.p_family,
                    "band": options.band, "formats": list(options.formats),
                    "partial_fractions": list(PARTIAL_FRACTIONS)},
        "notes": t.notes,
        "conditions": t.overview, "spearman": t.spearman, "auc": t.auc,
        "random_auc": t.random_auc, "asc_desc": t.asc_desc, "interaction": t.interaction,
        "p_families": t.p_families,
        "training_plane": t.training_plane,
        "holds": {"settings": (t.holds or {}).get("settings", []),
                  "level": (t.holds or {}).get("level"),
                  **{kind: [{"key": list(key), "k": k}
                            for key, k in (t.holds or {}).get(kind, {}).items()]
                     for kind in ("gap", "asc_desc", "spearman")}},
        "kind": results.kind,
        "warnings": saturation_warnings(results, t),
        "warnings_explained": SATURATION_TEXT,
        "figures": [f.record() for f in figs],
        "definitions": {
            "auc": "trapezoid of accuracy (fraction) over ablated/n in [0, 1]",
            "gap": "AUC minus the mean AUC of the same network's random orders",
            "asc_desc": "AUC(ascending) minus AUC(descending), per seed",
            "spearman": "rho of quantity vs single_neuron accuracy_drop, per seed",
            "summary": "mean, sd (ddof 1) and n over seeds; NaN/None where undefined",
            "test": p_note(t, options),
            "partial": "under 'partial', key f: the same over the first fraction f of the "
                       "ablations; partial AUC = (1/f) * trapezoid area of accuracy over "
                       "ablated/n in [0, f], accuracy interpolated linearly at f",
            "p_holm": "Holm step-down adjusted p over the test's family (capped at 1)",
            "p_bh": "Benjamini-Hochberg step-up adjusted p over the test's family "
                    "(cumulative minimum from the largest p, capped at 1)",
            "family": "name of the test's family: 'report' (all tests of the report) or "
                      "'<table>/<condition>' (--p-family table)",
            "holds": holds_note(t),
            "interaction": "per condition and hidden layer with pair_interaction: per seed "
                           "the mean accuracy_interaction (damage together minus damage of "
                           "each neuron apart, accuracy fraction) and loss_interaction (nats) "
                           "of the redundant, synergistic and random pairs; "
                           "<group>_minus_random per seed and its paired test; verdicts "
                           f"at BH-adjusted p <= {VERDICT_LEVEL} (yes, no, undecided)",
            "training_plane": "per condition, layer and snapshot epoch: binned_entropy "
                              "(I(X;T)), binned_mutual_information, kde_upper_xt, kde_upper_ty "
                              "summarised over seeds (bits); saturated = seeds with binned "
                              "H(T) >= 0.99 log2 N",
        },
    })


def _write(path: str, text: str):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def write_report(results: Results, outdir: str, options: Options = Options()) -> dict:
    """Write every figure (each format of options.formats), index.html, summary.md and
    tables.json into outdir.

    Returns {"figures": [...], "notes": [...], "tables": Tables}.
    """
    from .figures import all_figures, save  # matplotlib only when drawing

    os.makedirs(outdir, exist_ok=True)
    t = compute(results, options.exact_max_n, options.p_family)
    figs, fig_notes = all_figures(results, options.per_class_order, options.per_class_seed,
                                  options.band, keep=lambda f: save(f, outdir, options.formats))
    t.notes.extend(n for n in fig_notes if n not in t.notes)
    _write(os.path.join(outdir, "tables.json"),
           json.dumps(tables_json(results, t, figs, options), indent=1, ensure_ascii=False,
                      allow_nan=False) + "\n")
    _write(os.path.join(outdir, "summary.md"), summary_markdown(results, t, figs, options))
    _write(os.path.join(outdir, "index.html"), report_html(results, t, figs, options))
    return {"figures": figs, "notes": t.notes, "tables": t}
