"""Small statistics used by the report, each testable on its own.

- `auc`: normalised area under a cumulative-ablation curve
- `partial_auc`: the same over the first fraction f of the ablations, divided by f
- `holm`, `benjamini_hochberg`: p-values adjusted for multiple comparisons
- `spearman`, `spearman_by_layer`: rank correlation (average ranks for ties)
- `sign_flip_test`, `wilcoxon_test`, `paired_test`: paired tests across seeds
- `mean_sd`, `mean_ci_band`, `percentile_band`, `align_curves`: summaries for tables/figures
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from scipy import stats as sst

# Up to this many paired differences the exact sign-flip test enumerates all 2^n sign
# patterns; above it the Wilcoxon signed-rank test (scipy) is used.
EXACT_MAX_N = 12


def _curve(ablated, accuracy, n):
    """A curve's x (ablated) and y (accuracy) as flat float arrays, and its n (default the
    last ablated count), for `auc` and `partial_auc`."""
    x = np.asarray(ablated, dtype=float).reshape(-1)
    y = np.asarray(accuracy, dtype=float).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"ablated has {x.size} points but accuracy has {y.size}")
    if n is None:
        n = x[-1] if x.size else 0
    return x, y, n


def auc(ablated, accuracy, n: Optional[int] = None) -> float:
    """Trapezoid area under accuracy against x = ablated / n.

    With ablated running from 0 to n the area lies in [0, 1] when accuracy is a fraction.
    `n` defaults to the last entry of `ablated`. A curve that stops short of n (a partial
    custom order) integrates over the x it covers. NaN when any accuracy is NaN, when
    fewer than two points are given or n is not positive.
    """
    x, y, n = _curve(ablated, accuracy, n)
    if x.size < 2 or not n or n <= 0 or not np.all(np.isfinite(y)):
        return float("nan")
    if np.any(np.diff(x) < 0):
        raise ValueError("ablated must not decrease")
    x = x / float(n)
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0))


def auc_rows(ablated, accuracies, n: Optional[int] = None) -> np.ndarray:
    """`auc` of each row of a [R, P] matrix (e.g. the random curves of a scope)."""
    a = np.atleast_2d(np.asarray(accuracies, dtype=float))
    return np.array([auc(ablated, row, n) for row in a])


def partial_auc(ablated, accuracy, n: Optional[int] = None, fraction: float = 1.0) -> float:
    """Mean accuracy over the first `fraction` f of the ablations: (1/f) * area over [0, f].

    x = ablated / n as in `auc`; the area is the trapezoid rule over the recorded points
    with x < f plus one point at x = f, whose accuracy is interpolated linearly between the
    recorded points either side when no point lands on f (points within 1e-9 of f count as
    landing on it). Dividing by f puts the value in [0, 1] for accuracies in [0, 1], on the
    scale of `auc` (f = 1 gives `auc` of a curve covering [0, 1]). NaN when the curve does
    not cover [0, f] (first x > 0 or last x < f), when an accuracy used is NaN, when fewer
    than two points are given or n is not positive. 0 < f <= 1.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction {fraction} is not in (0, 1]")
    x, y, n = _curve(ablated, accuracy, n)
    if x.size < 2 or not n or n <= 0:
        return float("nan")
    if np.any(np.diff(x) < 0):
        raise ValueError("ablated must not decrease")
    x = x / float(n)
    tol = 1e-9
    if x[0] > tol or x[-1] < fraction - tol:
        return float("nan")
    k = int(np.searchsorted(x, fraction - tol, side="left"))  # first x >= f (within tol)
    if abs(x[k] - fraction) <= tol:
        y_f = y[k]
    else:  # x[k - 1] < f < x[k]
        w = (fraction - x[k - 1]) / (x[k] - x[k - 1])
        y_f = y[k - 1] + w * (y[k] - y[k - 1])
    xs = np.append(np.minimum(x[:k], fraction), fraction)
    ys = np.append(y[:k], y_f)
    if not np.all(np.isfinite(ys)):
        return float("nan")
    return float(np.sum(np.diff(xs) * (ys[1:] + ys[:-1]) / 2.0) / fraction)


def partial_auc_rows(ablated, accuracies, n: Optional[int] = None,
                     fraction: float = 1.0) -> np.ndarray:
    """`partial_auc` of each row of a [R, P] matrix."""
    a = np.atleast_2d(np.asarray(accuracies, dtype=float))
    return np.array([partial_auc(ablated, row, n, fraction) for row in a])


# -- Multiple comparisons ---------------------------------------------------------------------

def _family(p) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(p as a float array, indices of its finite entries sorted by p (stable), output)."""
    p = np.asarray(p, dtype=float).reshape(-1)
    finite = np.flatnonzero(np.isfinite(p))
    if np.any(p[finite] < 0) or np.any(p[finite] > 1):
        raise ValueError("p-values must lie in [0, 1]")
    order = finite[np.argsort(p[finite], kind="stable")]
    return p, order, np.full(p.shape, np.nan)


def holm(p) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979), same order as `p`.

    With the m finite p-values sorted, p_(1) <= ... <= p_(m):
    adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)), so adj >= p, adj is monotone in p and
    adj <= alpha exactly for the hypotheses Holm's procedure rejects at level alpha
    (family-wise error <= alpha under any dependence). NaN entries are not tests: they stay
    NaN and do not count in m.
    """
    p, order, out = _family(p)
    m = order.size
    if m:
        scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
        out[order] = np.maximum.accumulate(scaled)
    return out


def benjamini_hochberg(p) -> np.ndarray:
    """Benjamini–Hochberg step-up adjusted p-values ("q-values"), same order as `p`.

    With the m finite p-values sorted: adj_(i) = min_{j >= i} min(1, m p_(j) / j), so
    adj <= alpha exactly for the hypotheses the BH procedure rejects at false discovery
    rate alpha (valid for independent or positively dependent tests). NaN entries are not
    tests: they stay NaN and do not count in m. Equals R's p.adjust(p, "BH") and
    scipy.stats.false_discovery_control(p) (scipy >= 1.11) on finite p.
    """
    p, order, out = _family(p)
    m = order.size
    if m:
        scaled = np.minimum(1.0, m * p[order] / np.arange(1, m + 1))
        out[order] = np.minimum.accumulate(scaled[::-1])[::-1]
    return out


def spearman(x, y) -> float:
    """Spearman's rho: Pearson correlation of average ranks (ties share their mean rank).

    Pairs with a non-finite member are dropped. NaN when fewer than 2 pairs remain or
    either variable is constant (the coefficient is undefined there), as scipy.
    """
    x = np.asarray(x, dtype=float).reshape(-1)
    y = np.asarray(y, dtype=float).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"x has {x.size} values but y has {y.size}")
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 2:
        return float("nan")
    rx = sst.rankdata(x) - (x.size + 1) / 2.0
    ry = sst.rankdata(y) - (y.size + 1) / 2.0
    den = math.sqrt(float(np.dot(rx, rx)) * float(np.dot(ry, ry)))
    if den == 0.0:
        return float("nan")
    return float(np.clip(np.dot(rx, ry) / den, -1.0, 1.0))


def spearman_by_layer(values: Sequence, damage: Sequence) -> Dict[str, float]:
    """rho per hidden layer ("layer0", ...) and pooled over all layers ("network").

    `values[K]` and `damage[K]` are the quantity and the single-neuron damage of layer K's
    neurons; a layer where either is None is left out (of the pool too).
    """
    out: Dict[str, float] = {}
    pooled_v, pooled_d = [], []
    for k, (v, d) in enumerate(zip(values, damage)):
        if v is None or d is None:
            continue
        v = np.asarray(v, dtype=float).reshape(-1)
        d = np.asarray(d, dtype=float).reshape(-1)
        if v.shape != d.shape:
            raise ValueError(f"layer {k}: {v.size} values but {d.size} damages")
        out[f"layer{k}"] = spearman(v, d)
        pooled_v.append(v)
        pooled_d.append(d)
    if pooled_v:
        out["network"] = spearman(np.concatenate(pooled_v), np.concatenate(pooled_d))
    return out


def mean_sd(values) -> Tuple[float, float, int]:
    """(mean, sample sd (ddof 1), n) over the finite values; NaN where undefined."""
    v = np.asarray(values, dtype=float).reshape(-1)
    v = v[np.isfinite(v)]
    n = int(v.size)
    if n == 0:
        return float("nan"), float("nan"), 0
    return float(v.mean()), (float(v.std(ddof=1)) if n > 1 else float("nan")), n


@dataclass
class PairedTest:
    """Outcome of a paired test of H0: the differences are symmetric about 0."""
    test: str            # "sign-flip (exact)", "Wilcoxon signed-rank" or "n/a"
    n: int               # number of finite differences used
    statistic: float     # sum of differences (sign-flip) or W (Wilcoxon); NaN for n/a
    p: float             # two-sided p-value; NaN for n/a

    def as_dict(self):
        return {"test": self.test, "n": self.n,
                "statistic": None if not math.isfinite(self.statistic) else self.statistic,
                "p": None if not math.isfinite(self.p) else self.p}


def _finite(d) -> np.ndarray:
    d = np.asarray(d, dtype=float).reshape(-1)
    return d[np.isfinite(d)]


def sign_flip_test(d) -> float:
    """Exact two-sided sign-flip (paired permutation) test of the sum of differences.

    p = (number of the 2^n sign patterns whose |sum| is at least the observed |sum|) / 2^n,
    the observed pattern included. n differences all of one sign, distinct from zero, give
    p = 2 / 2^n. NaN for n = 0; enumerates 2^n patterns, so keep n small (<= ~20).
    """
    d = _finite(d)
    n = d.size
    if n == 0:
        return float("nan")
    if n > 24:
        raise ValueError(f"sign_flip_test enumerates 2^n patterns; n = {n} is too many")
    observed = abs(float(d.sum()))
    signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
    sums = np.abs(signs @ d)
    tolerance = 1e-12 * max(1.0, float(np.abs(d).sum()))
    return float(np.count_nonzero(sums >= observed - tolerance)) / float(2 ** n)


def wilcoxon_test(d) -> Tuple[float, float]:
    """(W, two-sided p) of scipy's Wilcoxon signed-rank test; (0, 1) when every d is 0.

    scipy computes the exact null distribution for n <= 50 without zeros or ties and the
    normal approximation otherwise.
    """
    d = _finite(d)
    if d.size == 0:
        return float("nan"), float("nan")
    if np.all(d == 0):
        return 0.0, 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = sst.wilcoxon(d)
    return float(r.statistic), float(r.pvalue)


def paired_test(d, exact_max_n: int = EXACT_MAX_N) -> PairedTest:
    """Paired test across seeds of differences d (one per seed), H0: centred on 0.

    n < 2: "n/a". 2 <= n <= exact_max_n: the exact sign-flip test (valid with ties and
    zeros, where scipy's Wilcoxon falls back on a normal approximation). Larger n:
    Wilcoxon signed-rank via scipy.stats.wilcoxon.
    """
    d = _finite(d)
    n = int(d.size)
    if n < 2:
        return PairedTest("n/a", n, float("nan"), float("nan"))
    if n <= exact_max_n:
        return PairedTest("sign-flip (exact)", n, float(d.sum()), sign_flip_test(d))
    w, p = wilcoxon_test(d)
    return PairedTest("Wilcoxon signed-rank", n, w, p)


def t_quantile(n: int, level: float = 0.95) -> float:
    """The two-sided Student t quantile for a mean of n values (NaN for n < 2)."""
    return float(sst.t.ppf(0.5 + level / 2.0, n - 1)) if n >= 2 else float("nan")


def mean_ci_band(curves, level: float = 0.95):
    """(mean, low, high) over rows of [S, P]: a t confidence interval of the mean.

    With one row the band collapses onto the mean.
    """
    c = np.atleast_2d(np.asarray(curves, dtype=float))
    mean = np.nanmean(c, axis=0)
    n = c.shape[0]
    if n < 2:
        return mean, mean.copy(), mean.copy()
    half = t_quantile(n, level) * np.nanstd(c, axis=0, ddof=1) / math.sqrt(n)
    return mean, mean - half, mean + half


def percentile_band(curves, level: float = 0.95):
    """(mean, low, high) over rows of [R, P]: the central `level` range of the curves."""
    c = np.atleast_2d(np.asarray(curves, dtype=float))
    tail = 100.0 * (1.0 - level) / 2.0
    return (np.nanmean(c, axis=0), np.nanpercentile(c, tail, axis=0),
            np.nanpercentile(c, 100.0 - tail, axis=0))


def align_curves(curves):
    """Put curves recorded at possibly different points on one grid.

    `curves` is a list of (ablated [P], values [P] or [R, P]). Returns (grid, matrix) with
    one row per curve (random sets contribute R rows); when the `ablated` arrays differ
    the grid is their sorted union and values are linearly interpolated (NaN outside a
    curve's range).
    """
    if not curves:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0))
    first = np.asarray(curves[0][0])
    same = all(np.array_equal(np.asarray(a), first) for a, _ in curves)
    grid = first if same else np.unique(np.concatenate([np.asarray(a) for a, _ in curves]))
    rows = []
    for a, v in curves:
        v = np.atleast_2d(np.asarray(v, dtype=float))
        for row in v:
            if same:
                rows.append(row)
            else:
                rows.append(np.interp(grid, np.asarray(a, dtype=float), row,
                                      left=np.nan, right=np.nan))
    return grid, np.vstack(rows)


# Bands over seeds drawn around a mean curve (report option --band).
BANDS = ("auto", "ci", "minmax", "iqr", "none")
# Below this many seeds "auto" draws the min-max band: a t interval from 2 to 4 seeds is
# mostly the t quantile (12.7 for 2 seeds, 4.3 for 3) and fills the panel.
AUTO_MINMAX_BELOW = 5
BAND_TEXT = {"ci": "95% t confidence interval of the mean over seeds",
             "minmax": "range over seeds (min to max)",
             "iqr": "interquartile range over seeds (25th to 75th percentile)",
             "none": "no band"}


def resolve_band(band: str, seeds: int) -> str:
    """The band drawn for `seeds` curves: "auto" is min-max below AUTO_MINMAX_BELOW seeds
    and the 95% CI from there on."""
    if band not in BANDS:
        raise ValueError(f"band {band!r}: expected one of {', '.join(BANDS)}")
    if band == "auto":
        return "minmax" if seeds < AUTO_MINMAX_BELOW else "ci"
    return band


def seed_band(curves, band: str = "auto"):
    """(mean, low, high, band) over rows of [S, P] (one row per seed): the mean curve and
    the band `resolve_band` picks; with one row, or band "none", low = high = mean."""
    c = np.atleast_2d(np.asarray(curves, dtype=float))
    band = resolve_band(band, c.shape[0])
    mean = np.nanmean(c, axis=0)
    if c.shape[0] < 2 or band == "none":
        return mean, mean.copy(), mean.copy(), band
    if band == "ci":
        _, lo, hi = mean_ci_band(c)
    elif band == "minmax":
        lo, hi = np.nanmin(c, axis=0), np.nanmax(c, axis=0)
    else:
        lo, hi = np.nanpercentile(c, 25, axis=0), np.nanpercentile(c, 75, axis=0)
    return mean, lo, hi, band
