"""The report's PNG figures (matplotlib, Agg backend: no display needed).

Each function draws one figure into a file and returns a `Figure` record (file name,
title, a caption on how to read it) or None when the results hold nothing to draw.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402
from matplotlib import cbook  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from . import stats  # noqa: E402
from .results import PAIR_GROUPS, Condition, Results  # noqa: E402
from .tables import condition_orders, condition_quantities, condition_scopes  # noqa: E402

DPI = 100

QUANTITY_AXIS = {
    "entropy": "H(T) [bits]",
    "mutual_information": "I(T;Y) [bits]",
    "kl_selectivity": "KL selectivity [bits]",
    "selectivity_index": "selectivity index [unitless]",
    "mean_activation": "mean activation [act. units]",
    "mean_abs_activation": "mean |activation| [act. units]",
    "activation_variance": "activation variance [act. units²]",
    "outgoing_l1": "L1 norm of outgoing weights",
    "outgoing_l2": "L2 norm of outgoing weights",
    "kl_selectivity_corrected": "KL selectivity, bias-corrected [bits]",
    "mutual_information_null_mean": "I(T;Y) under label permutation, mean [bits]",
    "mutual_information_null_q95": "I(T;Y) under label permutation, 95th pct. [bits]",
    "mutual_information_null_p": "permutation p-value of I(T;Y)",
    "accuracy_drop": "accuracy drop [percentage points]",
}
DAMAGE = "accuracy_drop"
DAMAGE_AXIS = "single-neuron damage: accuracy drop [pp]"
DIRECTION_STYLE = {"ascending": ("tab:blue", "-"), "descending": ("tab:red", "--")}


@dataclass
class Figure:
    file: str
    title: str
    caption: str
    condition: Optional[str] = None
    kind: str = ""


def quantity_axis(q: str) -> str:
    return QUANTITY_AXIS.get(q, q)


def _grid(count: int, max_cols: int) -> Tuple[int, int]:
    cols = max(1, min(count, max_cols))
    return int(math.ceil(count / cols)), cols


def _subplots(count, max_cols, panel_w, panel_h, *, left=0.8, right=0.25, top=0.85,
              bottom=0.95, wspace=0.75, hspace=0.85, **kw):
    """A grid of `count` panels of panel_w x panel_h inches with fixed margins (inches).

    Fixed margins instead of tight_layout: much faster for many panels, same look.
    """
    rows, cols = _grid(count, max_cols)
    width = left + cols * panel_w + (cols - 1) * wspace + right
    height = bottom + rows * panel_h + (rows - 1) * hspace + top
    fig, axes = plt.subplots(rows, cols, figsize=(width, height), squeeze=False, **kw)
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height,
                        top=1 - top / height, wspace=wspace / panel_w, hspace=hspace / panel_h)
    flat = axes.reshape(-1)
    for ax in flat[count:]:
        ax.set_visible(False)
    return fig, flat[:count], cols


def _save(fig, outdir, name) -> str:
    fig.savefig(os.path.join(outdir, name), dpi=DPI)
    plt.close(fig)
    return name


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _seed_text(cond: Condition) -> str:
    seeds = [str(s) for s in cond.seeds if s is not None]
    n = len(cond.networks)
    return f"{n} seed{'s' if n != 1 else ''}" + (f" ({', '.join(seeds)})" if seeds else "")


# -------------------------------------------------------------------------------------------
# Cumulative ablation curves.

def ablation_curves(cond: Condition, scope: str, outdir: str) -> Optional[Figure]:
    """One panel per quantity: ascending (solid), descending (dashed), random (grey band)."""
    orders = condition_orders(cond, scope)
    quantities = []
    for q, _ in orders:
        if q not in quantities:
            quantities.append(q)
    randoms = [(n.random(scope), n) for n in cond.networks]
    randoms = [(r, n) for r, n in randoms if r is not None]
    if not quantities and not randoms:
        return None
    panels = quantities or ["random only"]
    sizes = [n.scope_size(scope) for n in cond.networks if scope in n.scopes()]
    size = max(sizes) if sizes else 0
    fig, axes, cols = _subplots(len(panels), 4, 3.6, 2.6, wspace=0.3, hspace=0.75,
                                bottom=1.05, sharey=True)
    random_band = None
    if randoms:
        random_band = stats.align_curves([(r.ablated, r.accuracy) for r, _ in randoms])
    n_random = random_band[1].shape[0] if random_band else 0
    classes = cond.classes
    for ax, q in zip(axes, panels):
        if random_band is not None:
            grid, mat = random_band
            mean, lo, hi = stats.percentile_band(mat)
            ax.fill_between(grid, 100 * lo, 100 * hi, color="0.6", alpha=0.35, lw=0, zorder=1)
            ax.plot(grid, 100 * mean, color="0.35", lw=1.2, zorder=2)
        for d in [d for qq, d in orders if qq == q]:
            curves = [(c.ablated, c.accuracy) for c in
                      (n.ordered(scope, q, d) for n in cond.networks) if c is not None]
            if not curves:
                continue
            grid, mat = stats.align_curves(curves)
            mean, lo, hi = stats.mean_ci_band(mat)
            color, style = DIRECTION_STYLE.get(d, ("tab:green", ":"))
            ax.plot(grid, 100 * mean, color=color, ls=style, lw=1.6, zorder=3)
            if mat.shape[0] > 1:  # (with 2 seeds the t interval is wide: t = 12.7)
                ax.fill_between(grid, np.clip(100 * lo, 0, 100), np.clip(100 * hi, 0, 100),
                                color=color, alpha=0.12, lw=0, zorder=1.5)
        if classes:
            ax.axhline(100.0 / classes, color="k", ls=":", lw=0.8)
        ax.set_title(q, fontsize=10)
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
    for i, ax in enumerate(axes):
        ax.set_xlabel("neurons ablated")
        if i % cols == 0:
            ax.set_ylabel("test accuracy [%]")
    seeds = len(cond.networks)
    handles = [Line2D([], [], color=DIRECTION_STYLE["ascending"][0], ls="-",
                      label="ascending (mean over seeds" + (", 95% CI)" if seeds > 1 else ")")),
               Line2D([], [], color=DIRECTION_STYLE["descending"][0], ls="--",
                      label="descending (mean over seeds" + (", 95% CI)" if seeds > 1 else ")"))]
    if random_band is not None:
        handles.append(Patch(facecolor="0.6", alpha=0.5, edgecolor="0.35",
                             label=f"random: mean and central 95% of {n_random} curves"))
    if classes:
        handles.append(Line2D([], [], color="k", ls=":", lw=0.8, label=f"chance (1/{classes})"))
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 2 * cols),
               fontsize=8.5, frameon=False)
    title = (f"Cumulative ablation — {cond.label}, scope {scope} ({size} neurons, "
             f"{_seed_text(cond)})")
    fig.suptitle(title, fontsize=11)
    name = _save(fig, outdir, f"curves_{cond.slug}_{scope}.png")
    caption = (f"Test accuracy (%) after ablating the first k neurons of scope {scope} "
               "(x = neurons ablated), one panel per ordering quantity. Solid blue: neurons "
               "removed in ascending order of the quantity (least first); dashed red: "
               "descending (most first). Lines are means over seeds; the light band is the "
               "95% confidence interval of that mean. Grey: random orders, mean and the "
               "range holding the central 95% of all random curves pooled over orders and "
               "seeds. A curve below the grey band means that order removes important "
               "neurons earlier than chance; dashed below solid means high values of the "
               "quantity mark important neurons.")
    if random_band is None:
        caption += " This scope has no random curves."
    return Figure(name, title, caption, cond.label, "curves")


# -------------------------------------------------------------------------------------------
# Per-class accuracy.

def per_class(cond: Condition, order: Sequence[str], seed, outdir: str) -> Optional[Figure]:
    """Per-class test accuracy along one order of one network of the condition.

    `order` = (scope, quantity, direction); `seed` None picks the first seed. When the
    requested order or seed is missing the first available one is used and said so.
    """
    scope, quantity, direction = order
    nets = [n for n in cond.networks if seed is None or n.seed == seed] or []
    fallback = []
    if not nets:
        if seed is not None:
            fallback.append(f"seed {seed} not in this condition")
        nets = list(cond.networks)
    chosen = None
    for net in nets:
        if net.per_class(scope, quantity, direction) is not None:
            chosen = (net, scope, quantity, direction)
            break
    if chosen is None:
        for net in nets:
            for s in net.scopes()[::-1]:   # network scope first
                for q, d in net.ordered_keys(s):
                    if net.per_class(s, q, d) is not None:
                        chosen = (net, s, q, d)
                        break
                if chosen:
                    break
            if chosen:
                break
        if chosen is None:
            return None
        fallback.append(f"order {scope}/{quantity}/{direction} absent")
    net, scope, quantity, direction = chosen
    curve = net.ordered(scope, quantity, direction)
    pc = net.per_class(scope, quantity, direction)
    if pc.shape[0] != curve.ablated.size:
        return None
    fig, ax = plt.subplots(figsize=(8.0, 4.8))
    C = pc.shape[1]
    cmap = plt.get_cmap("tab10" if C <= 10 else "tab20")
    for c in range(C):
        if np.all(np.isnan(pc[:, c])):
            continue
        ax.plot(curve.ablated, 100 * pc[:, c], color=cmap(c % cmap.N), lw=1.1,
                label=f"class {c}")
    ax.plot(curve.ablated, 100 * curve.accuracy, color="k", lw=2.4, label="all classes")
    ax.set_xlabel(f"neurons ablated (scope {scope}, {curve.n} neurons)")
    ax.set_ylabel("test accuracy of the class [%]")
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5),
              ncol=1 if C <= 14 else 2, frameon=False)
    title = (f"Per-class accuracy — {cond.label}, {net.label}: scope {scope}, "
             f"{quantity} {direction}")
    ax.set_title(title, fontsize=10.5)
    fig.tight_layout()
    name = _save(fig, outdir, f"per_class_{cond.slug}.png")
    caption = (f"Accuracy on each true class (coloured) and overall (black) as the neurons of "
               f"scope {scope} are ablated in {direction} order of {quantity}, for one "
               f"network ({net.name}). Classes whose curve falls early depend on the neurons "
               "removed first; classes absent from the test split are not drawn.")
    if fallback:
        caption += " (Requested " + "; ".join(fallback) + ": showing the first available.)"
    return Figure(name, title, caption, cond.label, "per_class")


# -------------------------------------------------------------------------------------------
# Distributions per layer.

def _kde_or_flat(data, coords):
    data = np.asarray(data, dtype=float)
    if data.size < 2 or np.ptp(data) == 0:
        return np.ones_like(coords)
    from scipy.stats import gaussian_kde
    try:
        return gaussian_kde(data)(coords)
    except (np.linalg.LinAlgError, ValueError):
        return np.ones_like(coords)


def _layer_values(cond: Condition, layer: int, q: str) -> np.ndarray:
    parts = []
    for net in cond.networks:
        if q == DAMAGE:
            v = net.accuracy_drop(layer)
            v = None if v is None else 100 * v
        else:
            v = net.measure(layer, q)
        if v is not None:
            parts.append(np.asarray(v, dtype=float))
    if not parts:
        return np.zeros(0)
    v = np.concatenate(parts)
    return v[np.isfinite(v)]


def distributions(cond: Condition, outdir: str) -> Optional[Figure]:
    """One panel per quantity: a violin of its values per hidden layer, pooled over seeds."""
    quantities = condition_quantities(cond)
    if any(n.has_single_neuron for n in cond.networks):
        quantities.append(DAMAGE)
    if not quantities:
        return None
    H = cond.n_hidden
    fig, axes, _ = _subplots(len(quantities), 4, 3.0, 2.4, left=0.85, wspace=0.95,
                             bottom=0.65)
    for ax, q in zip(axes, quantities):
        data = [_layer_values(cond, k, q) for k in range(H)]
        positions = [k for k in range(H) if data[k].size]
        data = [data[k] for k in positions]
        if data:
            vstats = cbook.violin_stats(data, _kde_or_flat)
            parts = ax.violin(vstats, positions=positions, widths=0.8, showmedians=True)
            for body in parts["bodies"]:
                body.set_facecolor("tab:blue" if q != DAMAGE else "tab:orange")
                body.set_alpha(0.45)
        ax.set_xticks(range(H))
        ax.set_xticklabels([f"layer{k}" for k in range(H)])
        ax.set_xlim(-0.6, H - 0.4)
        ax.set_title(q if q != DAMAGE else "single-neuron damage", fontsize=10)
        ax.set_ylabel(quantity_axis(q), fontsize=8.5)
        ax.set_xlabel("hidden layer")
        ax.grid(alpha=0.3, axis="y")
    title = f"Per-layer distributions — {cond.label} ({_seed_text(cond)}, neurons pooled)"
    fig.suptitle(title, fontsize=11)
    name = _save(fig, outdir, f"distributions_{cond.slug}.png")
    caption = ("Distribution of each per-neuron quantity in each hidden layer (violin: kernel "
               "density, bar: median and range), neurons of all seeds pooled. Information "
               "quantities are in bits; single-neuron damage is the test-accuracy drop in "
               "percentage points when that neuron alone is ablated. Compare shapes within a "
               "layer; levels across layers are not comparable importance scales.")
    return Figure(name, title, caption, cond.label, "distributions")


# -------------------------------------------------------------------------------------------
# Quantity against single-neuron damage.

def damage_scatter(cond: Condition, layer: int, outdir: str) -> Optional[Figure]:
    """One panel per quantity: value against single-neuron damage, coloured by seed."""
    nets = [n for n in cond.networks if n.accuracy_drop(layer) is not None]
    quantities = [q for q in condition_quantities(cond)
                  if any(n.measure(layer, q) is not None for n in nets)]
    if not nets or not quantities:
        return None
    fig, axes, cols = _subplots(len(quantities), 5, 2.8, 2.3, left=0.85, wspace=0.25,
                                hspace=1.0, top=1.0, bottom=1.0, sharey=True)
    cmap = plt.get_cmap("tab10")
    for ax, q in zip(axes, quantities):
        rhos = []
        for i, net in enumerate(nets):
            v, d = net.measure(layer, q), net.accuracy_drop(layer)
            if v is None or v.shape != d.shape:
                continue
            ax.scatter(v, 100 * d, s=9, alpha=0.6, color=cmap(i % 10), lw=0,
                       label=net.label)
            rhos.append(stats.spearman(v, d))
        m, sd, n = stats.mean_sd(rhos)
        rho = ("ρ n/a" if n == 0 else f"ρ = {m:+.2f}" +
               (f" ± {sd:.2f}" if n > 1 else "") + f" (n={n})")
        ax.set_title(f"{q}\n{rho}", fontsize=9.5)
        ax.set_xlabel(quantity_axis(q), fontsize=8.5)
        ax.grid(alpha=0.3)
    for i, ax in enumerate(axes):
        if i % cols == 0:
            ax.set_ylabel(DAMAGE_AXIS.replace(": ", ":\n"), fontsize=8.5)
    handles = [Line2D([], [], marker="o", ls="", color=cmap(i % 10), label=net.label)
               for i, net in enumerate(nets)]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 10), fontsize=8.5,
               frameon=False)
    title = (f"Quantity vs single-neuron damage — {cond.label}, layer{layer} "
             f"({_seed_text(cond)})")
    fig.suptitle(title, fontsize=11)
    name = _save(fig, outdir, f"scatter_{cond.slug}_layer{layer}.png")
    caption = (f"Each point is one neuron of hidden layer {layer} (colour: seed): x = the "
               "quantity, y = the test-accuracy drop (percentage points) when that neuron "
               "alone is ablated. ρ is Spearman's rank correlation, mean ± sd over seeds "
               "(n seeds); positive ρ means higher values mark more important neurons.")
    return Figure(name, title, caption, cond.label, "scatter")


# -------------------------------------------------------------------------------------------
# Pairwise ablation interaction.

GROUP_COLORS = {"redundant": "tab:blue", "synergistic": "tab:red", "random": "0.45"}


def pair_interaction(cond: Condition, outdir: str) -> Optional[Figure]:
    """One panel per hidden layer: accuracy interaction of each group's pairs (box and
    points, pairs of all seeds pooled) and the mean over seeds with its 95% CI."""
    layers = sorted({k for n in cond.networks for k in n.pair_interaction_layers()})
    if not layers:
        return None
    fig, axes, cols = _subplots(len(layers), 3, 3.8, 2.8, left=0.95, wspace=0.45,
                                bottom=1.0)
    jitter = np.random.default_rng(0)  # fixed: the same file for the same results
    G = len(PAIR_GROUPS)
    for ax, layer in zip(axes, layers):
        pooled = [[] for _ in PAIR_GROUPS]
        per_seed = [[] for _ in PAIR_GROUPS]  # each seed's mean
        for net in cond.networks:
            pairs = net.pair_interaction(layer)
            if pairs is None:
                continue
            x = 100 * pairs["accuracy_interaction"]
            for g in range(G):
                v = x[(pairs["group"] == g) & np.isfinite(x)]
                pooled[g].append(v)
                if v.size:
                    per_seed[g].append(float(v.mean()))
        data = [np.concatenate(p) if p else np.zeros(0) for p in pooled]
        shown = [g for g in range(G) if data[g].size]
        if shown:
            ax.boxplot([data[g] for g in shown], positions=shown, widths=0.5,
                       showfliers=False, medianprops={"color": "k"})
        for g in shown:
            color = GROUP_COLORS[PAIR_GROUPS[g]]
            ax.scatter(g + jitter.uniform(-0.18, 0.18, data[g].size), data[g], s=6,
                       alpha=0.35, color=color, lw=0, zorder=2)
            means = np.array(per_seed[g])
            mean, lo, hi = stats.mean_ci_band(means[:, None])
            ax.errorbar(g + 0.34, mean[0], yerr=[[mean[0] - lo[0]], [hi[0] - mean[0]]],
                        fmt="D", color=color, markeredgecolor="k", ms=5, capsize=3,
                        zorder=3)
        ax.axhline(0.0, color="k", lw=0.8, ls=":")
        ax.set_xticks(range(G))
        ax.set_xticklabels(PAIR_GROUPS)
        ax.set_xlim(-0.6, G - 0.3)
        ax.set_title(f"layer{layer}", fontsize=10)
        ax.grid(alpha=0.3, axis="y")
    for i, ax in enumerate(axes):
        if i % cols == 0:
            ax.set_ylabel("interaction: accuracy drop\ntogether − apart [pp]", fontsize=8.5)
    seeds = len(cond.networks)
    handles = [Patch(facecolor="white", edgecolor="k", label="pairs of all seeds: box "
                     "(quartiles, median, whiskers 1.5 IQR) and points"),
               Line2D([], [], marker="D", ls="", color="0.5", markeredgecolor="k",
                      label="mean over seeds of each seed's mean"
                      + (", 95% CI" if seeds > 1 else ""))]
    fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=8.5, frameon=False)
    title = f"Pair ablation interaction — {cond.label} ({_seed_text(cond)})"
    fig.suptitle(title, fontsize=11)
    name = _save(fig, outdir, f"interaction_{cond.slug}.png")
    caption = ("Each point is a pair of neurons of one hidden layer, ablated together: y = its "
               "interaction, the test-accuracy drop of the pair minus the drops of its two "
               "neurons ablated alone, in percentage points (> 0: together costs more than "
               "apart). Groups: the pairs of largest redundancy, of largest synergy, and "
               "pairs drawn at random, of every seed; the box gives quartiles and median. "
               "The diamond beside each group is the mean over seeds of each seed's mean "
               "interaction, with its 95% t confidence interval (none with one seed).")
    return Figure(name, title, caption, cond.label, "interaction")


# -------------------------------------------------------------------------------------------
# Information plane.

LAYER_MARKERS = "osD^v<>pPX*h"


def information_plane(results: Results, outdir: str) -> Optional[Figure]:
    """x = H(T) = I(X;T), y = I(T;Y) per hidden layer; one colour per condition."""
    conds = [(c, [n for n in c.networks if n.has_information_plane])
             for c in results.conditions]
    conds = [(c, nets) for c, nets in conds if nets]
    if not conds:
        return None
    fig, ax = plt.subplots(figsize=(8.2, 5.6))
    cmap = plt.get_cmap("tab10" if len(conds) <= 10 else "tab20")
    max_layers = 0
    handles = []
    classes, samples = set(), set()
    for ci, (cond, nets) in enumerate(conds):
        color = cmap(ci % cmap.N)
        size = max(16.0, 80.0 - 14.0 * ci)  # coinciding points show as concentric rings
        for net in nets:
            h, mi = net.information_plane()
            max_layers = max(max_layers, h.size)
            ax.plot(h, mi, color=color, lw=1.0, alpha=0.7)
            for k in range(h.size):
                ax.scatter(h[k], mi[k], color=color, marker=LAYER_MARKERS[k % len(LAYER_MARKERS)],
                           s=size, edgecolor="k", linewidth=0.5, zorder=3 + ci)
            if net.classes:
                classes.add(net.classes)
            m = net.attrs.get("measure_samples")
            if isinstance(m, (int, float)) and m > 1:
                samples.add(int(m))
        handles.append(Line2D([], [], color=color, lw=1.5,
                              label=f"{cond.label} ({_count(len(nets), 'seed')})"))
    for k in range(max_layers):
        handles.append(Line2D([], [], color="0.5", marker=LAYER_MARKERS[k % len(LAYER_MARKERS)],
                              ls="", markeredgecolor="k", label=f"layer{k}"))
    if len(classes) == 1:
        c = classes.pop()
        ax.axhline(math.log2(c), color="k", ls=":", lw=0.8)
        handles.append(Line2D([], [], color="k", ls=":", lw=0.8,
                              label=f"log2({c} classes): max I(T;Y)"))
    if len(samples) == 1:
        m = samples.pop()
        ax.axvline(math.log2(m), color="k", ls="--", lw=0.8)
        handles.append(Line2D([], [], color="k", ls="--", lw=0.8,
                              label=f"log2({m} samples): max H(T)"))
    ax.set_xlabel("H(T) = I(X;T) of the binned layer [bits]")
    ax.set_ylabel("I(T;Y) [bits]")
    ax.grid(alpha=0.3)
    ax.legend(handles=handles, fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5),
              frameon=False)
    title = "Information plane of the hidden layers (one point per layer and seed)"
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    name = _save(fig, outdir, "information_plane.png")
    caption = ("Each hidden layer of each network is a point: x = entropy of the binned layer "
               "vector H(T) (= I(X;T) for a deterministic network), y = its mutual "
               "information with the label I(T;Y), both in bits. Lines join the layers of "
               "one network in forward order (marker = layer), colour = condition, one line "
               "per seed. I(T;Y) cannot exceed H(Y) (log2 of the number of classes for "
               "balanced classes); with fine bins H(T) saturates at log2 of the sample size.")
    return Figure(name, title, caption, None, "information_plane")


# -------------------------------------------------------------------------------------------
# Information plane over training.

ACTIVATION_COLORS = {"relu": "tab:blue", "tanh": "tab:orange", "sigmoid": "tab:green"}
LAYER_STYLES = ("-", "--", ":", "-.")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text)


def training_plane(results: Results, outdir: str) -> List[Figure]:
    """Per data set and hidden widths: the snapshots of the information plane over
    training, one panel per estimator (binning, KDE), one line per network and hidden layer
    through its snapshots in epoch order; colour = activation, line style = layer."""
    groups = {}
    for cond in results.conditions:
        nets = [n for n in cond.networks if n.training_plane() is not None]
        if nets:
            groups.setdefault((cond.dataset, cond.hidden), []).append((cond, nets))
    figs = []
    for (dataset, hidden), conds in groups.items():
        widths = "x".join(str(w) for w in hidden) or "none"
        fig, axes, _ = _subplots(2, 2, 4.6, 3.9, right=2.6, wspace=0.9)
        estimators = (("binned_entropy", "binned_mutual_information",
                       "binning: I(X;T) = H(T) of the binned layer"),
                      ("kde_upper_xt", "kde_upper_ty", "KDE upper bound (noise variance s²)"))
        samples, classes, variances, saturated_any = set(), set(), set(), False
        handles, layers_seen = [], 0
        cmap = plt.get_cmap("tab10")
        for ci, (cond, nets) in enumerate(conds):
            color = ACTIVATION_COLORS.get(cond.activation, cmap((ci + 3) % 10))
            for net in nets:
                p = net.training_plane()
                if p.samples:
                    samples.add(p.samples)
                if net.classes:
                    classes.add(net.classes)
                variances.add(p.kde_noise_variance)
                layers_seen = max(layers_seen, p.layers)
                for k in range(p.layers):
                    style = LAYER_STYLES[k % len(LAYER_STYLES)]
                    for ax, (xq, yq, _) in zip(axes, estimators):
                        x, y = getattr(p, xq)[k], getattr(p, yq)[k]
                        ax.plot(x, y, color=color, ls=style, lw=1.1, alpha=0.75, marker=".",
                                ms=4)
                        # The start (the first snapshot): a ring.
                        ax.scatter(x[:1], y[:1], s=46, facecolor="none", edgecolor=color,
                                   linewidth=1.3, zorder=4)
                        if xq == "binned_entropy" and p.saturated[k].any():
                            saturated_any = True
                            sat = p.saturated[k]
                            ax.scatter(x[sat], y[sat], marker="x", s=36, color="crimson",
                                       linewidth=1.3, zorder=5)
            handles.append(Line2D([], [], color=color, lw=1.5,
                                  label=f"{cond.activation} ({_count(len(nets), 'seed')})"))
        for k in range(layers_seen):
            handles.append(Line2D([], [], color="0.4", ls=LAYER_STYLES[k % len(LAYER_STYLES)],
                                  label=f"layer{k}"))
        handles.append(Line2D([], [], color="0.4", marker="o", markerfacecolor="none", ls="",
                              label="first snapshot"))
        if saturated_any:
            handles.append(Line2D([], [], color="crimson", marker="x", ls="",
                                  label="saturated: H(T) ≥ 0.99 log2 N"))
        for ax, (_, _, title) in zip(axes, estimators):
            if len(samples) == 1:
                ax.axvline(math.log2(next(iter(samples))), color="k", ls="--", lw=0.8)
            if len(classes) == 1:
                ax.axhline(math.log2(next(iter(classes))), color="k", ls=":", lw=0.8)
            # The whole plane from 0, so that trajectories pinned at the ceilings (log2 N,
            # H(Y)) show as such instead of filling the panel with their last digits.
            ax.ticklabel_format(useOffset=False)
            ax.set_xlim(0, max(ax.get_xlim()[1], 0.5) * 1.04)
            ax.set_ylim(0, max(ax.get_ylim()[1], 0.5) * 1.04)
            ax.set_xlabel("I(X;T) [bits]")
            ax.set_ylabel("I(T;Y) [bits]")
            ax.set_title(title, fontsize=10)
            ax.grid(alpha=0.3)
        if len(samples) == 1:
            handles.append(Line2D([], [], color="k", ls="--", lw=0.8,
                                  label=f"log2({next(iter(samples))} samples)"))
        if len(classes) == 1:
            handles.append(Line2D([], [], color="k", ls=":", lw=0.8,
                                  label=f"log2({next(iter(classes))} classes)"))
        axes[1].legend(handles=handles, fontsize=8, loc="center left",
                       bbox_to_anchor=(1.03, 0.5), frameon=False)
        s2 = ", ".join(f"{v:g}" for v in sorted(v for v in variances if math.isfinite(v)))
        title = f"Information plane over training — {dataset}-{widths}"
        fig.suptitle(title + (f" (s² = {s2})" if s2 else ""), fontsize=11)
        name = _save(fig, outdir, f"training_plane_{_slug(dataset + '-' + widths)}.png")
        caption = ("Each line follows one hidden layer of one network (one line per seed) "
                   "through its snapshots during training in epoch order, starting at the "
                   "ring (the first snapshot, epoch 0 = before training); colour = "
                   "activation, line style = layer. Left: the binned layer vector, x = H(T) "
                   "= I(X;T), y = I(T;Y). Right: the Kolchinsky–Tracey KDE upper bound on "
                   "I(X;T) of the layer plus Gaussian noise of variance s², and the same "
                   "difference for I(T;Y) (Saxe et al. 2018). Dashed: log2 of the samples "
                   "measured, the most either x can reach; dotted: log2 of the classes. "
                   "When s² is small against the layer's squared distances between samples "
                   "(wide layers), the KDE bound too sits at log2 N: then every sample is "
                   "its own mixture component and the bound says as little as a saturated "
                   "binning. "
                   "Crosses mark saturated binned points (H(T) ≥ 0.99 log2 N: nearly every "
                   "sample has a pattern of its own, so the binned estimate there reflects "
                   "the sample size, not compression or its absence).")
        figs.append(Figure(name, title, caption, None, "training_plane"))
    return figs


# -------------------------------------------------------------------------------------------

def all_figures(results: Results, outdir: str, per_class_order: Sequence[str],
                per_class_seed=None) -> Tuple[List[Figure], List[str]]:
    """Draw every figure; return them and notes on what was skipped."""
    figs: List[Figure] = []
    notes: List[str] = []
    for cond in results.conditions:
        scopes = condition_scopes(cond)
        for scope in scopes:
            f = ablation_curves(cond, scope, outdir)
            if f:
                figs.append(f)
        if not scopes:
            notes.append(f"{cond.label}: no ablation curves: no curve or per-class figure")
        else:
            f = per_class(cond, per_class_order, per_class_seed, outdir)
            if f:
                figs.append(f)
            else:
                notes.append(f"{cond.label}: no per_class_accuracy: no per-class figure")
        f = distributions(cond, outdir)
        if f:
            figs.append(f)
        for layer in range(cond.n_hidden):
            f = damage_scatter(cond, layer, outdir)
            if f:
                figs.append(f)
        f = pair_interaction(cond, outdir)
        if f:  # (silently absent without pairwise ablation)
            figs.append(f)
    f = information_plane(results, outdir)
    if f:  # (its absence is already noted per condition)
        figs.append(f)
    figs.extend(training_plane(results, outdir))
    return figs, notes
