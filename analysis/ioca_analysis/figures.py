"""The figures: `plot_*` functions for notebooks and the report's multi-panel figures.

`plot_*(results, ..., ax=None)` draw one panel into `ax` (a new pyplot figure when None)
and return the matplotlib Figure; they write no file. The report's figures (`ablation_curves`,
`distributions`, ...) are built from the same panels on `matplotlib.figure.Figure` objects,
made without pyplot, so drawing them needs no display and no backend: importing this
module never changes matplotlib's backend. Each returns a `Figure` record (file name,
title, caption, and the matplotlib figure in `figure`) or None when the results hold
nothing to draw; the report writes the files (`save`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import matplotlib
import numpy as np
from matplotlib import cbook
from matplotlib.figure import Figure as MplFigure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from . import stats
from .results import PAIR_GROUPS, Condition, Network, Results
from .tables import condition_orders, condition_quantities, condition_scopes

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
    """A report figure: `file` is the PNG's name (`files` every format written, by `save`),
    `figure` the matplotlib figure until it is saved."""
    file: str
    title: str
    caption: str
    condition: Optional[str] = None
    kind: str = ""
    files: List[str] = field(default_factory=list)
    figure: object = field(default=None, repr=False, compare=False)

    def record(self) -> dict:
        """The JSON-able description (tables.json)."""
        return {"file": self.file, "files": list(self.files), "title": self.title,
                "caption": self.caption, "condition": self.condition, "kind": self.kind}


def _colormap(name: str):
    return matplotlib.colormaps[name]


def _axes(ax, figsize=(6.4, 4.2)):
    """(figure, axes): the given axes' figure, or a new pyplot figure (notebooks show it)."""
    if ax is not None:
        return ax.figure, ax
    import matplotlib.pyplot as plt  # only here: a notebook's own figure
    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def _condition(results, condition) -> Condition:
    """A Condition from a Condition, its label, or None (the only / first condition)."""
    if isinstance(condition, Condition):
        return condition
    conds = results.conditions
    if condition is None:
        return conds[0]
    for c in conds:
        if c.label == condition:
            return c
    raise KeyError(f"{results.path}: no condition {condition!r} (it has "
                   f"{', '.join(c.label for c in conds)})")


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
    fig = MplFigure(figsize=(width, height), dpi=DPI)
    axes = fig.subplots(rows, cols, squeeze=False, **kw)
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height,
                        top=1 - top / height, wspace=wspace / panel_w, hspace=hspace / panel_h)
    flat = axes.reshape(-1)
    for ax in flat[count:]:
        ax.set_visible(False)
    return fig, flat[:count], cols


FORMATS = ("png", "svg")


def save(fig: Figure, outdir: str, formats: Sequence[str] = FORMATS) -> Figure:
    """Write a report figure in each format (PNG first: `file`), then drop the drawing."""
    stem = os.path.splitext(fig.file)[0]
    fig.files = []
    for fmt in formats:
        name = f"{stem}.{fmt}"
        fig.figure.savefig(os.path.join(outdir, name), dpi=DPI,
                           metadata={"Date": None} if fmt == "svg" else None)
        fig.files.append(name)
    fig.figure = None
    return fig


def _one(figsize) -> Tuple[MplFigure, object]:
    fig = MplFigure(figsize=figsize, dpi=DPI)
    return fig, fig.subplots()


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _seed_text(cond: Condition) -> str:
    seeds = [str(s) for s in cond.seeds if s is not None]
    n = len(cond.networks)
    return f"{n} seed{'s' if n != 1 else ''}" + (f" ({', '.join(seeds)})" if seeds else "")


# -------------------------------------------------------------------------------------------
# Cumulative ablation curves.

def _quantities(orders) -> List[str]:
    out = []
    for q, _ in orders:
        if q not in out:
            out.append(q)
    return out


def _random_band(cond: Condition, scope: str):
    """(grid, [rows, P]) of every random curve of the scope, pooled over orders and seeds;
    None without random curves."""
    randoms = [r for r in (n.random(scope) for n in cond.networks) if r is not None]
    if not randoms:
        return None
    return stats.align_curves([(r.ablated, r.accuracy) for r in randoms])


def _curve_panel(ax, cond: Condition, scope: str, quantity: str, band: str,
                 random_band=None, directions=None) -> Optional[str]:
    """One quantity's curves of a condition into `ax`: ascending (solid blue) and descending
    (dashed red) means over seeds with the chosen band, the random orders' mean and central
    95% (grey), chance (dotted). Returns the band drawn (None: no seed band)."""
    drawn = None
    if random_band is not None:
        grid, mat = random_band
        mean, lo, hi = stats.percentile_band(mat)
        ax.fill_between(grid, 100 * lo, 100 * hi, color="0.6", alpha=0.35, lw=0, zorder=1)
        ax.plot(grid, 100 * mean, color="0.35", lw=1.2, zorder=2)
    orders = condition_orders(cond, scope)
    for d in [d for q, d in orders if q == quantity and (directions is None or d in directions)]:
        curves = [(c.ablated, c.accuracy) for c in
                  (n.ordered(scope, quantity, d) for n in cond.networks) if c is not None]
        if not curves:
            continue
        grid, mat = stats.align_curves(curves)
        mean, lo, hi, used = stats.seed_band(mat, band)
        color, style = DIRECTION_STYLE.get(d, ("tab:green", ":"))
        ax.plot(grid, 100 * mean, color=color, ls=style, lw=1.6, zorder=3, label=d)
        if mat.shape[0] > 1 and used != "none":
            drawn = used
            ax.fill_between(grid, np.clip(100 * lo, 0, 100), np.clip(100 * hi, 0, 100),
                            color=color, alpha=0.15, lw=0, zorder=1.5)
    if cond.classes:
        ax.axhline(100.0 / cond.classes, color="k", ls=":", lw=0.8)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    return drawn


def _band_label(band: Optional[str]) -> str:
    return {"ci": "95% CI", "minmax": "min–max over seeds", "iqr": "IQR over seeds"}.get(
        band, "")


def plot_curves(results: Results, scope: str, quantity: str, condition=None,
                band: str = "auto", ax=None):
    """Cumulative ablation of one scope ordered by one quantity, for one condition (label,
    `Condition` or None for the first): test accuracy (%) against neurons ablated,
    ascending and descending orders (mean over seeds and a band: "auto", "ci", "minmax",
    "iqr" or "none"; `stats.seed_band`) and the random orders (grey). Returns the Figure."""
    cond = _condition(results, condition)
    fig, ax = _axes(ax)
    drawn = _curve_panel(ax, cond, scope, quantity, band, _random_band(cond, scope))
    ax.set_xlabel(f"neurons ablated (scope {scope})")
    ax.set_ylabel("test accuracy [%]")
    ax.set_title(f"{cond.label}: {quantity}", fontsize=10)
    handles, _ = ax.get_legend_handles_labels()
    if drawn:
        handles.append(Patch(facecolor="0.5", alpha=0.3, label=_band_label(drawn)))
    ax.legend(handles=handles, fontsize=8, frameon=False)
    return fig


def ablation_curves(cond: Condition, scope: str, band: str = "auto") -> Optional[Figure]:
    """One panel per quantity: ascending (solid), descending (dashed), random (grey band)."""
    orders = condition_orders(cond, scope)
    quantities = _quantities(orders)
    random_band = _random_band(cond, scope)
    if not quantities and random_band is None:
        return None
    panels = quantities or ["random only"]
    sizes = [n.scope_size(scope) for n in cond.networks if scope in n.scopes()]
    size = max(sizes) if sizes else 0
    fig, axes, cols = _subplots(len(panels), 4, 3.6, 2.6, wspace=0.3, hspace=0.75,
                                bottom=1.05, sharey=True)
    n_random = random_band[1].shape[0] if random_band else 0
    classes = cond.classes
    drawn = None
    for ax, q in zip(axes, panels):
        drawn = _curve_panel(ax, cond, scope, q, band, random_band) or drawn
        ax.set_title(q, fontsize=10)
    for i, ax in enumerate(axes):
        ax.set_xlabel("neurons ablated")
        if i % cols == 0:
            ax.set_ylabel("test accuracy [%]")
    extra = f", band: {_band_label(drawn)})" if drawn else ")"
    handles = [Line2D([], [], color=DIRECTION_STYLE["ascending"][0], ls="-",
                      label="ascending (mean over seeds" + extra),
               Line2D([], [], color=DIRECTION_STYLE["descending"][0], ls="--",
                      label="descending (mean over seeds" + extra)]
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
    band_text = (f"the light band is the {stats.BAND_TEXT[drawn]}" if drawn else
                 "no band is drawn" + (" (one seed)" if len(cond.networks) < 2 else ""))
    caption = (f"Test accuracy (%) after ablating the first k neurons of scope {scope} "
               "(x = neurons ablated), one panel per ordering quantity. Solid blue: neurons "
               "removed in ascending order of the quantity (least first); dashed red: "
               f"descending (most first). Lines are means over seeds; {band_text}. "
               "Grey: random orders, mean and the "
               "range holding the central 95% of all random curves pooled over orders and "
               "seeds. A curve below the grey band means that order removes important "
               "neurons earlier than chance; dashed below solid means high values of the "
               "quantity mark important neurons.")
    if random_band is None:
        caption += " This scope has no random curves."
    return Figure(f"curves_{cond.slug}_{scope}.png", title, caption, cond.label, "curves",
                  figure=fig)


def key_scope(cond: Condition) -> Optional[str]:
    """The scope a summary shows: `network` (all hidden neurons), else the last one."""
    scopes = condition_scopes(cond)
    return "network" if "network" in scopes else (scopes[-1] if scopes else None)


QUANTITY_COLORS = ("tab:blue", "tab:red", "tab:green", "tab:purple", "tab:orange",
                   "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "0.2")


def plot_key_curves(results: Results, condition=None, scope: Optional[str] = None,
                    direction: str = "descending", ax=None):
    """Every quantity's `direction` curve of one condition in one panel (mean over seeds,
    one colour per quantity) against the random orders (grey: mean and central 95%): which
    quantity finds the important neurons soonest. x = fraction of the scope ablated."""
    cond = _condition(results, condition)
    scope = scope or key_scope(cond)
    fig, ax = _axes(ax)
    rb = _random_band(cond, scope) if scope else None
    n = max([net.scope_size(scope) for net in cond.networks if scope in net.scopes()] or [0])
    if rb is not None and n:
        grid, mat = rb
        mean, lo, hi = stats.percentile_band(mat)
        ax.fill_between(grid / n, 100 * lo, 100 * hi, color="0.6", alpha=0.35, lw=0)
        ax.plot(grid / n, 100 * mean, color="0.35", lw=1.4, label="random")
    for i, q in enumerate(_quantities(condition_orders(cond, scope) if scope else [])):
        curves = [(c.ablated, c.accuracy) for c in
                  (net.ordered(scope, q, direction) for net in cond.networks) if c is not None]
        if not curves or not n:
            continue
        grid, mat = stats.align_curves(curves)
        ax.plot(grid / n, 100 * np.nanmean(mat, axis=0), lw=1.5,
                color=QUANTITY_COLORS[i % len(QUANTITY_COLORS)], label=q)
    if cond.classes:
        ax.axhline(100.0 / cond.classes, color="k", ls=":", lw=0.8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 100)
    ax.set_xlabel(f"fraction of scope {scope} ablated ({direction})")
    ax.set_ylabel("test accuracy [%]")
    ax.set_title(f"{cond.label} ({_seed_text(cond)})", fontsize=10)
    ax.grid(alpha=0.3)
    return fig


def summary_curves(results: Results) -> Optional[Figure]:
    """The report's first figure: per condition, `plot_key_curves` of its key scope."""
    conds = [c for c in results.conditions if key_scope(c)]
    if not conds:
        return None
    fig, axes, cols = _subplots(len(conds), 3, 3.9, 2.8, wspace=0.35, hspace=0.8,
                                right=2.1, bottom=0.7, top=0.75, sharey=True)
    for ax, cond in zip(axes, conds):
        plot_key_curves(results, cond, ax=ax)
    for i, ax in enumerate(axes):
        if i % cols:
            ax.set_ylabel("")
    handles, labels = [], []
    for ax in axes:
        for h, l in zip(*ax.get_legend_handles_labels()):
            if l not in labels:
                handles.append(h)
                labels.append(l)
    fig.legend(handles, labels, loc="center right", fontsize=8.5, frameon=False)
    title = "Which quantity finds the important neurons first (descending orders)"
    fig.suptitle(title, fontsize=11)
    caption = ("One panel per condition, in its network scope (all hidden neurons; else its "
               "last scope): test accuracy (%) as neurons are ablated in descending order "
               "of each quantity (mean over seeds; colour = quantity), x = fraction of the "
               "scope ablated. Grey: random orders, mean and central 95%. The lower a "
               "curve, the sooner that quantity removes the neurons the network needs; "
               "a curve inside the grey band does no better than chance. Details per scope, "
               "with both directions and bands over seeds, follow under Figures.")
    return Figure("summary_curves.png", title, caption, None, "summary", figure=fig)


# -------------------------------------------------------------------------------------------
# Per-class accuracy.

def per_class(cond: Condition, order: Sequence[str], seed) -> Optional[Figure]:
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
    fig, ax = _one((8.0, 4.8))
    plot_per_class(net, scope, quantity, direction, ax=ax)
    title = (f"Per-class accuracy — {cond.label}, {net.label}: scope {scope}, "
             f"{quantity} {direction}")
    ax.set_title(title, fontsize=10.5)
    fig.tight_layout()
    name = f"per_class_{cond.slug}.png"
    caption = (f"Accuracy on each true class (coloured) and overall (black) as the neurons of "
               f"scope {scope} are ablated in {direction} order of {quantity}, for one "
               f"network ({net.name}). Classes whose curve falls early depend on the neurons "
               "removed first; classes absent from the test split are not drawn.")
    if fallback:
        caption += " (Requested " + "; ".join(fallback) + ": showing the first available.)"
    return Figure(name, title, caption, cond.label, "per_class", figure=fig)


def plot_per_class(network: Network, scope: str, quantity: str, direction: str, ax=None):
    """Test accuracy of each true class (coloured) and overall (black) along one ordered
    curve of one network (`Results.network(name)`). Returns the Figure."""
    curve = network.ordered(scope, quantity, direction)
    pc = network.per_class(scope, quantity, direction)
    if curve is None or pc is None:
        raise KeyError(f"{network.name}: no per-class curve {scope}/{quantity}/{direction}")
    fig, ax = _axes(ax, (8.0, 4.8))
    C = pc.shape[1]
    colors = _colormap("tab10" if C <= 10 else "tab20")
    for c in range(C):
        if np.all(np.isnan(pc[:, c])):
            continue
        ax.plot(curve.ablated, 100 * pc[:, c], color=colors(c % colors.N), lw=1.1,
                label=f"class {c}")
    ax.plot(curve.ablated, 100 * curve.accuracy, color="k", lw=2.4, label="all classes")
    ax.set_xlabel(f"neurons ablated (scope {scope}, {curve.n} neurons)")
    ax.set_ylabel("test accuracy of the class [%]")
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5),
              ncol=1 if C <= 14 else 2, frameon=False)
    ax.set_title(f"{network.name}: {scope}, {quantity} {direction}", fontsize=10)
    return fig


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


def _distribution_panel(ax, cond: Condition, q: str):
    H = cond.n_hidden
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


def plot_distribution(results: Results, quantity: str, condition=None, ax=None):
    """Violins of one per-neuron quantity per hidden layer, neurons of all seeds pooled
    (quantity "accuracy_drop": single-neuron damage in percentage points). Returns the
    Figure."""
    cond = _condition(results, condition)
    fig, ax = _axes(ax)
    _distribution_panel(ax, cond, quantity)
    ax.set_title(f"{cond.label}: {ax.get_title()}", fontsize=10)
    return fig


def distributions(cond: Condition) -> Optional[Figure]:
    """One panel per quantity: a violin of its values per hidden layer, pooled over seeds."""
    quantities = condition_quantities(cond)
    if any(n.has_single_neuron for n in cond.networks):
        quantities.append(DAMAGE)
    if not quantities:
        return None
    fig, axes, _ = _subplots(len(quantities), 4, 3.0, 2.4, left=0.85, wspace=0.95,
                             bottom=0.65)
    for ax, q in zip(axes, quantities):
        _distribution_panel(ax, cond, q)
    title = f"Per-layer distributions — {cond.label} ({_seed_text(cond)}, neurons pooled)"
    fig.suptitle(title, fontsize=11)
    name = f"distributions_{cond.slug}.png"
    caption = ("Distribution of each per-neuron quantity in each hidden layer (violin: kernel "
               "density, bar: median and range), neurons of all seeds pooled. Information "
               "quantities are in bits; single-neuron damage is the test-accuracy drop in "
               "percentage points when that neuron alone is ablated. Compare shapes within a "
               "layer; levels across layers are not comparable importance scales.")
    return Figure(name, title, caption, cond.label, "distributions", figure=fig)


# -------------------------------------------------------------------------------------------
# Quantity against single-neuron damage.

def _scatter_panel(ax, nets: List[Network], layer: int, q: str):
    colors = _colormap("tab10")
    rhos = []
    for i, net in enumerate(nets):
        v, d = net.measure(layer, q), net.accuracy_drop(layer)
        if v is None or d is None or v.shape != d.shape:
            continue
        ax.scatter(v, 100 * d, s=9, alpha=0.6, color=colors(i % 10), lw=0, label=net.label)
        rhos.append(stats.spearman(v, d))
    m, sd, n = stats.mean_sd(rhos)
    rho = ("ρ n/a" if n == 0 else f"ρ = {m:+.2f}" +
           (f" ± {sd:.2f}" if n > 1 else "") + f" (n={n})")
    ax.set_title(f"{q}\n{rho}", fontsize=9.5)
    ax.set_xlabel(quantity_axis(q), fontsize=8.5)
    ax.grid(alpha=0.3)


def plot_damage_scatter(results: Results, layer: int, quantity: str, condition=None,
                        ax=None):
    """Each neuron of hidden layer `layer`: x = the quantity, y = its single-neuron damage
    (accuracy drop, percentage points), colour = seed; the title gives Spearman's ρ, mean ±
    sd over seeds. Returns the Figure."""
    cond = _condition(results, condition)
    fig, ax = _axes(ax)
    _scatter_panel(ax, [n for n in cond.networks if n.accuracy_drop(layer) is not None],
                   layer, quantity)
    ax.set_ylabel(DAMAGE_AXIS, fontsize=8.5)
    ax.set_title(f"{cond.label}, layer{layer}: {ax.get_title()}", fontsize=9.5)
    return fig


def damage_scatter(cond: Condition, layer: int) -> Optional[Figure]:
    """One panel per quantity: value against single-neuron damage, coloured by seed."""
    nets = [n for n in cond.networks if n.accuracy_drop(layer) is not None]
    quantities = [q for q in condition_quantities(cond)
                  if any(n.measure(layer, q) is not None for n in nets)]
    if not nets or not quantities:
        return None
    fig, axes, cols = _subplots(len(quantities), 5, 2.8, 2.3, left=0.85, wspace=0.25,
                                hspace=1.0, top=1.0, bottom=1.0, sharey=True)
    cmap = _colormap("tab10")
    for ax, q in zip(axes, quantities):
        _scatter_panel(ax, nets, layer, q)
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
    name = f"scatter_{cond.slug}_layer{layer}.png"
    caption = (f"Each point is one neuron of hidden layer {layer} (colour: seed): x = the "
               "quantity, y = the test-accuracy drop (percentage points) when that neuron "
               "alone is ablated. ρ is Spearman's rank correlation, mean ± sd over seeds "
               "(n seeds); positive ρ means higher values mark more important neurons.")
    return Figure(name, title, caption, cond.label, "scatter", figure=fig)


# -------------------------------------------------------------------------------------------
# Pairwise ablation interaction.

GROUP_COLORS = {"redundant": "tab:blue", "synergistic": "tab:red", "random": "0.45"}


def pair_interaction(cond: Condition) -> Optional[Figure]:
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
    name = f"interaction_{cond.slug}.png"
    caption = ("Each point is a pair of neurons of one hidden layer, ablated together: y = its "
               "interaction, the test-accuracy drop of the pair minus the drops of its two "
               "neurons ablated alone, in percentage points (> 0: together costs more than "
               "apart). Groups: the pairs of largest redundancy, of largest synergy, and "
               "pairs drawn at random, of every seed; the box gives quartiles and median. "
               "The diamond beside each group is the mean over seeds of each seed's mean "
               "interaction, with its 95% t confidence interval (none with one seed).")
    return Figure(name, title, caption, cond.label, "interaction", figure=fig)


# -------------------------------------------------------------------------------------------
# Information plane.

LAYER_MARKERS = "osD^v<>pPX*h"


def plot_information_plane(results: Results, ax=None):
    """x = H(T) = I(X;T), y = I(T;Y) of each hidden layer of each network (bits), one
    colour per condition, lines through a network's layers, marker = layer; saturated
    points (H(T) >= 0.99 log2 N, N the samples measured) get a red cross and a warning.
    Returns the Figure."""
    conds = [(c, [n for n in c.networks if n.has_information_plane])
             for c in results.conditions]
    conds = [(c, nets) for c, nets in conds if nets]
    fig, ax = _axes(ax, (8.2, 5.6))
    colors = _colormap("tab10" if len(conds) <= 10 else "tab20")
    max_layers = 0
    handles = []
    classes, samples = set(), set()
    saturated = total = 0
    for ci, (cond, nets) in enumerate(conds):
        color = colors(ci % colors.N)
        size = max(16.0, 80.0 - 14.0 * ci)  # coinciding points show as concentric rings
        for net in nets:
            h, mi = net.information_plane()
            max_layers = max(max_layers, h.size)
            ax.plot(h, mi, color=color, lw=1.0, alpha=0.7)
            for k in range(h.size):
                ax.scatter(h[k], mi[k], color=color, marker=LAYER_MARKERS[k % len(LAYER_MARKERS)],
                           s=size, edgecolor="k", linewidth=0.5, zorder=3 + ci)
            sat = net.information_plane_saturated()
            total += h.size
            if sat is not None and sat.any():
                saturated += int(sat.sum())
                ax.scatter(h[sat], mi[sat], marker="x", s=50, color="crimson", linewidth=1.4,
                           zorder=20)
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
    if saturated:
        handles.append(Line2D([], [], color="crimson", marker="x", ls="",
                              label="saturated: H(T) ≥ 0.99 log2 N"))
        ax.text(0.02, 0.97, f"SATURATED: {saturated} of {total} points have H(T) ≥ 0.99 "
                "log2 N\n(each sample its own bin pattern: the plane shows N, not the "
                "layer)", transform=ax.transAxes, va="top", fontsize=8.5, color="crimson",
                bbox={"facecolor": "white", "edgecolor": "crimson", "alpha": 0.9})
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
    # The whole plane from 0 (as over training): points pinned at log2 N then show as such
    # instead of a zoom into their last digits.
    ax.ticklabel_format(useOffset=False)
    ax.set_xlim(0, max(ax.get_xlim()[1], 0.5) * 1.04)
    ax.set_ylim(0, max(ax.get_ylim()[1], 0.5) * 1.04)
    ax.grid(alpha=0.3)
    ax.legend(handles=handles, fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5),
              frameon=False)
    ax.set_title("Information plane of the hidden layers (one point per layer and seed)",
                 fontsize=11)
    return fig


def information_plane(results: Results) -> Optional[Figure]:
    """The report's information-plane figure (`plot_information_plane`)."""
    if not any(n.has_information_plane for n in results.networks):
        return None
    fig, ax = _one((8.2, 5.6))
    plot_information_plane(results, ax=ax)
    fig.tight_layout()
    title = ax.get_title()
    caption = ("Each hidden layer of each network is a point: x = entropy of the binned layer "
               "vector H(T) (= I(X;T) for a deterministic network), y = its mutual "
               "information with the label I(T;Y), both in bits. Lines join the layers of "
               "one network in forward order (marker = layer), colour = condition, one line "
               "per seed. I(T;Y) cannot exceed H(Y) (log2 of the number of classes for "
               "balanced classes); with fine bins H(T) saturates at log2 of the sample size: "
               "red crosses mark saturated points (H(T) ≥ 0.99 log2 N), where every sample "
               "has nearly a bin pattern of its own and the points of all layers coincide.")
    return Figure("information_plane.png", title, caption, None, "information_plane",
                  figure=fig)


# -------------------------------------------------------------------------------------------
# Information plane over training.

ACTIVATION_COLORS = {"relu": "tab:blue", "tanh": "tab:orange", "sigmoid": "tab:green"}
LAYER_STYLES = ("-", "--", ":", "-.")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text)


TRAINING_ESTIMATORS = {
    "binning": ("binned_entropy", "binned_mutual_information",
                "binning: I(X;T) = H(T) of the binned layer"),
    "kde": ("kde_upper_xt", "kde_upper_ty", "KDE upper bound (noise variance s²)")}


def _training_groups(results: Results):
    """(data set, hidden widths) -> [(condition, networks with snapshots)]."""
    groups = {}
    for cond in results.conditions:
        nets = [n for n in cond.networks if n.training_plane() is not None]
        if nets:
            groups.setdefault((cond.dataset, cond.hidden), []).append((cond, nets))
    return groups


def _training_axes(axes, estimators, conds):
    """Draw the snapshot trajectories of `conds` into one axes per estimator; returns the
    noise variances seen."""
    samples, classes, variances, saturated_any = set(), set(), set(), False
    handles, layers_seen = [], 0
    cmap = _colormap("tab10")
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
    axes[-1].legend(handles=handles, fontsize=8, loc="center left",
                   bbox_to_anchor=(1.03, 0.5), frameon=False)
    return variances


def plot_training_plane(results: Results, estimator: str = "binning", dataset=None,
                        hidden=None, ax=None):
    """The information plane over training of one data set and hidden widths (default:
    the first with snapshots) for one estimator ("binning" or "kde"): one line per network
    and hidden layer through its snapshots, a ring at the first, crosses on saturated binned
    points. Returns the Figure."""
    groups = _training_groups(results)
    key = next((k for k in groups if (dataset is None or k[0] == dataset)
                and (hidden is None or tuple(k[1]) == tuple(hidden))), None)
    if key is None:
        raise KeyError(f"{results.path}: no information plane over training"
                       + (f" for {dataset}" if dataset else ""))
    fig, ax = _axes(ax, (7.4, 4.6))
    _training_axes([ax], [TRAINING_ESTIMATORS[estimator]], groups[key])
    return fig


def training_plane(results: Results) -> List[Figure]:
    """Per data set and hidden widths: the snapshots of the information plane over
    training, one panel per estimator (binning, KDE), one line per network and hidden layer
    through its snapshots in epoch order; colour = activation, line style = layer."""
    figs = []
    for (dataset, hidden), conds in _training_groups(results).items():
        widths = "x".join(str(w) for w in hidden) or "none"
        fig, axes, _ = _subplots(2, 2, 4.6, 3.9, right=2.6, wspace=0.9)
        variances = _training_axes(axes, list(TRAINING_ESTIMATORS.values()), conds)
        s2 = ", ".join(f"{v:g}" for v in sorted(v for v in variances if math.isfinite(v)))
        title = f"Information plane over training — {dataset}-{widths}"
        fig.suptitle(title + (f" (s² = {s2})" if s2 else ""), fontsize=11)
        name = f"training_plane_{_slug(dataset + '-' + widths)}.png"
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
        figs.append(Figure(name, title, caption, None, "training_plane", figure=fig))
    return figs


# -------------------------------------------------------------------------------------------

def all_figures(results: Results, per_class_order: Sequence[str], per_class_seed=None,
                band: str = "auto", keep=None) -> Tuple[List[Figure], List[str]]:
    """Draw every report figure, passing each to `keep` as soon as it is drawn (the report
    saves and frees it there); return them and notes on what was skipped."""
    figs: List[Figure] = []
    notes: List[str] = []

    def add(f):
        if f:
            figs.append(keep(f) if keep else f)

    add(summary_curves(results))
    for cond in results.conditions:
        scopes = condition_scopes(cond)
        for scope in scopes:
            add(ablation_curves(cond, scope, band))
        if not scopes:
            notes.append(f"{cond.label}: no ablation curves: no curve or per-class figure")
        else:
            f = per_class(cond, per_class_order, per_class_seed)
            if f:
                add(f)
            else:
                notes.append(f"{cond.label}: no per_class_accuracy: no per-class figure")
        add(distributions(cond))
        for layer in range(cond.n_hidden):
            add(damage_scatter(cond, layer))
        add(pair_interaction(cond))  # (silently absent without pairwise ablation)
    add(information_plane(results))  # (its absence is already noted per condition)
    for f in training_plane(results):
        add(f)
    return figs, notes
