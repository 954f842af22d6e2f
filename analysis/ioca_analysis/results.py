"""Reading an ioca study results file (docs/study.md, "The results file", formats 1 and 2).

`Results(path)` opens and validates the file and returns numpy arrays on request; every
group the documentation lists except the root and `/networks` may be absent, and the
reader then answers ``None`` (or an empty list) instead of failing. Malformed content
(wrong shapes, a non-ioca file) raises `ResultsError` with a message that names the file.

Strings may come back from h5py as ``str`` (variable-length) or ``bytes`` /
``numpy.bytes_`` (fixed-length); `decode` turns every attribute into plain Python values.

Format 2 packs every array into a few large datasets plus index tables; `packed.PackedFile`
presents such a file as groups and datasets that answer like h5py's, so `Network` reads
both versions with the same code (it checks node kinds with `_is_group` / `_is_dataset`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import h5py
import numpy as np

from . import packed, single

FORMAT_ATTRIBUTE = "ioca_results_format"
SUPPORTED_FORMAT = 2
# HDF5 chunk cache per open dataset: format 2 reads many small slices of the same big,
# compressed /data arrays, and a chunk read once should serve the next slices too.
CHUNK_CACHE_BYTES = 32 << 20

DIRECTIONS = ("ascending", "descending")
# A binned H(T) at or above this fraction of log2 N is saturated (docs/study.md).
SATURATION = 0.99

# Preferred display order of quantities; others follow alphabetically.
CANONICAL_QUANTITIES = (
    "entropy", "mutual_information", "kl_selectivity", "selectivity_index",
    "mean_activation", "mean_abs_activation", "activation_variance",
    "outgoing_l1", "outgoing_l2", "kl_selectivity_corrected",
    "mutual_information_null_mean", "mutual_information_null_q95",
    "mutual_information_null_p", "single_damage",
)
# Datasets of /measures/layers/K that are not per-neuron quantities to analyse.
NON_QUANTITY_MEASURES = frozenset({
    "kl_selectivity_class", "bin_low", "bin_high", "bins_used", "histogram",
})
# Children of /ablation/<scope> that are not ordered-by-quantity curves.
NON_QUANTITY_SCOPE_CHILDREN = frozenset({"random", "custom"})
# pair_interaction/layers/K (docs/study.md): the pair groups in the order of their numbers,
# the datasets, which of them must be there, and which hold integers.
PAIR_GROUPS = ("redundant", "synergistic", "random")
PAIR_COLUMNS = ("first", "second", "group", "accuracy_drop", "loss_increase",
                "accuracy_interaction", "loss_interaction", "redundancy", "synergy")
PAIR_REQUIRED = frozenset({"first", "second", "group", "accuracy_interaction"})
PAIR_INTEGER = frozenset({"first", "second", "group"})
# Quantities whose values do not depend on the measure setting (binning, bins, estimator);
# every other measured quantity does (docs/study.md, "Measure settings").
BINNING_INDEPENDENT = frozenset({
    "selectivity_index", "mean_activation", "mean_abs_activation", "activation_variance",
    "outgoing_l1", "outgoing_l2", "single_damage",
})


def depends_on_binning(quantity: str) -> bool:
    """Whether a quantity's values (and sweeps) differ between measure settings."""
    return quantity not in BINNING_INDEPENDENT


def setting_name(binning, bins, estimator) -> str:
    """A measure setting's name as ioca writes it: <binning>-<bins>-<estimator>, or
    binary-<estimator>."""
    binning, estimator = str(binning), str(estimator)
    if binning == "binary":
        return f"binary-{estimator}"
    return f"{binning}-{_as_int(bins, bins)}-{estimator}"


class ResultsError(Exception):
    """Bad input: the message names the file and what is wrong (one line)."""


def decode(value):
    """An HDF5 attribute value as plain Python: str, int, float, bool, list or None."""
    if isinstance(value, h5py.Empty):
        return None
    if isinstance(value, np.ndarray):
        if value.size == 1:
            return decode(value.reshape(()).item() if value.dtype.kind != "O"
                          else value.reshape(-1)[0])
        return [decode(v) for v in value.reshape(-1).tolist()]
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", "replace").rstrip("\x00")
    if isinstance(value, np.generic):
        return decode(value.item())
    if isinstance(value, str):
        return value.rstrip("\x00")
    return value


def _is_dataset(obj) -> bool:
    return isinstance(obj, (h5py.Dataset, packed.PackedDataset))


def _is_group(obj) -> bool:
    return isinstance(obj, (h5py.Group, packed.PackedGroup))


def quantity_sort_key(name: str):
    """Canonical quantities first, in CANONICAL_QUANTITIES order, then alphabetical."""
    try:
        return (0, CANONICAL_QUANTITIES.index(name), name)
    except ValueError:
        return (1, 0, name)


def scope_sort_key(name: str):
    """layer0, layer1, ..., layer10 numerically, then network, then anything else."""
    m = re.fullmatch(r"layer(\d+)", name)
    if m:
        return (0, int(m.group(1)), name)
    if name == "network":
        return (1, 0, name)
    return (2, 0, name)


def _as_int(value, default=None):
    try:
        if value is None:
            return default
        if isinstance(value, str):
            value = value.strip()
            return int(float(value)) if value else default
        return int(value)
    except (TypeError, ValueError):
        return default


def _as_float(value, default=float("nan")):
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def parse_hidden(value) -> Optional[Tuple[int, ...]]:
    """Hidden widths from an attribute: "64,64", "64x64", [64, 64], 64 or bytes."""
    value = decode(value)
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        try:
            return tuple(int(v) for v in value)
        except (TypeError, ValueError):
            return None
    if isinstance(value, (int, np.integer)):
        return (int(value),)
    parts = [p for p in re.split(r"[,x\s]+", str(value).strip()) if p]
    try:
        return tuple(int(p) for p in parts) or None
    except ValueError:
        return None


@dataclass
class Curve:
    """One cumulative-ablation curve (ordered) or a set of R random curves.

    accuracy is [P] for an ordered curve and [R, P] for random ones; ablated [P] holds
    the number of neurons ablated at each recorded point; n is the scope's size. tied
    (ordered curves) is how many of the n neurons have a value equal to another's, so were
    placed by the seeded tie-breaking permutation; None for random curves and for files
    written before ties were broken at random (then ties were in neuron-index order).
    """
    path: str
    n: int
    ablated: np.ndarray
    accuracy: np.ndarray
    loss: Optional[np.ndarray] = None
    tied: Optional[int] = None

    @property
    def fraction(self) -> np.ndarray:
        """ablated / n: the x axis of a normalised curve, in [0, 1]."""
        return self.ablated / float(self.n) if self.n > 0 else self.ablated.astype(float)


PAIR_QUANTITIES = ("joint_mutual_information", "redundancy", "unique_first", "unique_second",
                   "synergy", "co_information")


@dataclass
class Pairs:
    """The partial information decomposition of every pair of neurons of a hidden layer
    (`measures/layers/K/pairs`, measure.pairs = true; README.md, "Pairs of neurons"), in
    bits, plug-in: pair k is neurons (first[k], second[k]), in the order (0, 1), (0, 2), ...,
    (n-2, n-1); redundancy (Williams and Beer's I_min) + unique_first = the first neuron's
    plug-in I(T;Y), and redundancy + unique_first + unique_second + synergy =
    joint_mutual_information = I(Ti,Tj;Y); co_information = redundancy - synergy."""
    first: np.ndarray
    second: np.ndarray
    joint_mutual_information: np.ndarray
    redundancy: np.ndarray
    unique_first: np.ndarray
    unique_second: np.ndarray
    synergy: np.ndarray
    co_information: np.ndarray

    def __len__(self) -> int:
        return int(self.first.size)

    def matrix(self, quantity: str, n: Optional[int] = None) -> np.ndarray:
        """A quantity as a symmetric [n, n] matrix (NaN on the diagonal); unique_first and
        unique_second give the unique information of the row's neuron: M[i, j] is what i
        alone knows in the pair (i, j)."""
        if n is None:
            n = int(max(self.second.max(initial=-1), self.first.max(initial=-1)) + 1)
        m = np.full((n, n), np.nan)
        if quantity in ("unique_first", "unique_second"):
            m[self.first, self.second] = self.unique_first
            m[self.second, self.first] = self.unique_second
        else:
            values = getattr(self, quantity)
            m[self.first, self.second] = values
            m[self.second, self.first] = values
        return m


TRAINING_PLANE_QUANTITIES = ("binned_entropy", "binned_mutual_information", "saturated",
                             "kde_upper_xt", "kde_upper_ty")


@dataclass
class TrainingPlane:
    """The information plane over training of one network (docs/study.md, "Information
    plane over training"): snapshots after `epochs` [S] (0 = before training), and per hidden
    layer K (lists indexed by K) arrays [S] in bits: `binned_entropy` = I(X;T) and
    `binned_mutual_information` = I(T;Y) of the binned layer, `saturated` (bool: binned
    H(T) >= 0.99 log2 samples), `kde_upper_xt` (the Kolchinsky–Tracey upper bound on
    I(X;T) at noise variance `kde_noise_variance`) and `kde_upper_ty` (the same difference
    for I(T;Y)). `samples` is N, the samples measured; `split` their split."""
    epochs: np.ndarray
    binned_entropy: List[np.ndarray]
    binned_mutual_information: List[np.ndarray]
    saturated: List[np.ndarray]
    kde_upper_xt: List[np.ndarray]
    kde_upper_ty: List[np.ndarray]
    binning: str = ""
    bins: Optional[int] = None
    kde_noise_variance: float = float("nan")
    samples: Optional[int] = None
    split: str = ""

    @property
    def layers(self) -> int:
        return len(self.binned_entropy)


@dataclass
class Condition:
    """Networks that differ only by seed: same data set, activation and hidden widths."""
    key: Tuple[str, str, Tuple[int, ...]]
    networks: List["Network"] = field(default_factory=list)

    @property
    def dataset(self) -> str:
        return self.key[0]

    @property
    def activation(self) -> str:
        return self.key[1]

    @property
    def hidden(self) -> Tuple[int, ...]:
        return self.key[2]

    @property
    def label(self) -> str:
        widths = "x".join(str(w) for w in self.hidden) or "none"
        return f"{self.dataset}-{self.activation}-{widths}"

    @property
    def slug(self) -> str:
        """The label made safe for file names."""
        return re.sub(r"[^A-Za-z0-9._-]+", "_", self.label)

    @property
    def seeds(self) -> List:
        return [net.seed for net in self.networks]

    @property
    def n_hidden(self) -> int:
        return max((net.n_hidden for net in self.networks), default=0)

    @property
    def classes(self) -> Optional[int]:
        for net in self.networks:
            if net.classes is not None:
                return net.classes
        return None


class Network:
    """One network: its `/networks/<net>` group (format 1) or the `packed.PackedNetwork`
    standing for it (format 2). Arrays are read on demand and cached."""

    def __init__(self, results: "Results", name: str, group):
        self._results = results
        self._group = group
        self._cache: Dict = {}
        self.name = name
        self.path = group.name
        self.attrs = {k: decode(v) for k, v in group.attrs.items()}
        parsed = self._parse_name(name)
        self.dataset = str(self.attrs.get("dataset") or parsed.get("dataset") or "unknown")
        self.activation = str(self.attrs.get("activation") or parsed.get("activation")
                              or "unknown")
        widths = self._dataset("hidden_widths")
        if widths is not None and widths.ndim == 1:
            self.hidden = tuple(int(w) for w in widths)
        else:
            self.hidden = (parse_hidden(self.attrs.get("hidden")) or parsed.get("hidden")
                           or ())
        self.seed = _as_int(self.attrs.get("seed"), parsed.get("seed"))
        self.index = _as_int(self.attrs.get("index"), None)
        self.classes = _as_int(self.attrs.get("classes"), None)
        self.test_accuracy = _as_float(self.attrs.get("test_accuracy"))

    # -- helpers ------------------------------------------------------------------------
    @staticmethod
    def _parse_name(name: str) -> Dict:
        """<dataset>-<activation>-<widths joined by x>-s<seed> (the data set may hold '-')."""
        parts = name.rsplit("-", 3)
        if len(parts) != 4 or not re.fullmatch(r"s-?\d+", parts[3]):
            return {}
        return {"dataset": parts[0], "activation": parts[1],
                "hidden": parse_hidden(parts[2]), "seed": int(parts[3][1:])}

    def _error(self, where: str, problem: str) -> ResultsError:
        return ResultsError(f"{self._results.path}: {self.path}/{where}: {problem}")

    def _dataset(self, where: str) -> Optional[np.ndarray]:
        obj = self._group.get(where)
        if obj is None:
            return None
        if not _is_dataset(obj):
            raise self._error(where, "is a group, expected a dataset")
        try:
            return np.asarray(obj[()])
        except (OSError, TypeError, ValueError) as exc:
            raise self._error(where, f"cannot be read ({exc})") from None

    def _subgroup(self, where: str):
        obj = self._group.get(where)
        return obj if _is_group(obj) else None

    @property
    def condition_key(self) -> Tuple[str, str, Tuple[int, ...]]:
        return (self.dataset, self.activation, tuple(self.hidden))

    @property
    def label(self) -> str:
        return f"seed {self.seed}" if self.seed is not None else self.name

    @property
    def n_hidden(self) -> int:
        """Hidden layers: from the widths, else from the measure / single-neuron groups."""
        return max([len(self.hidden)] + [k + 1 for k in self.measure_layers()]
                   + [k + 1 for k in self.single_layers()])

    # -- measure settings ----------------------------------------------------------------
    @property
    def settings(self) -> List[str]:
        """The measure settings of the network, the first being the one stored at the
        default paths (`measures/`, `ablation/<scope>/<quantity>/`): the network attribute
        `measure_settings`, or the single setting its `binning`, `bins`, `estimator`
        attributes name."""
        names = self.attrs.get("measure_settings")
        if names:
            return [n for n in str(names).split(",") if n]
        if self.attrs.get("binning") is not None:
            return [setting_name(self.attrs.get("binning"), self.attrs.get("bins"),
                                 self.attrs.get("estimator", "plugin"))]
        return ["default"]

    @property
    def split_seed(self) -> Optional[int]:
        """The seed of the network's train/validation split: its attribute `split_seed`
        (studies with data.split_seeds), else the model's, else the study's data.split_seed."""
        for value in (self.attrs.get("split_seed"),
                      self._group.get("model").attrs.get("split_seed")
                      if _is_group(self._group.get("model")) else None):
            if value is not None:
                return _as_int(value, None)
        m = re.search(r"^split_seed\s*=\s*(\d+)", str(self._results.attrs.get("study_config", "")),
                      re.M)
        return int(m.group(1)) if m else None

    def in_setting(self, setting: str) -> "Network":
        """The network as seen under one measure setting: its measures, information plane
        and the curves of quantities that depend on the binning are that setting's; random
        curves, single-neuron damage and the other quantities' curves are shared. The first
        setting is the network itself."""
        names = self.settings
        if setting not in names:
            raise KeyError(f"{self._results.path}: network {self.name} has no measure "
                           f"setting {setting!r} (it has {', '.join(names)})")
        if setting == names[0]:
            return self
        return SettingView(self, setting)

    # -- measures -----------------------------------------------------------------------
    @property
    def has_measures(self) -> bool:
        return self._subgroup("measures/layers") is not None

    def measure_layers(self) -> List[int]:
        g = self._subgroup("measures/layers")
        if g is None:
            return []
        return sorted(int(k) for k in g.keys() if k.isdigit())

    def measure_names(self, layer: int) -> List[str]:
        """Per-neuron float quantities of hidden layer `layer` (no bins, classes, ...)."""
        g = self._subgroup(f"measures/layers/{layer}")
        if g is None:
            return []
        names = []
        for name, obj in g.items():
            if (name in NON_QUANTITY_MEASURES or not _is_dataset(obj)
                    or obj.ndim != 1 or obj.dtype.kind not in "fiu"):
                continue
            names.append(name)
        return sorted(names, key=quantity_sort_key)

    def measure(self, layer: int, quantity: str) -> Optional[np.ndarray]:
        key = ("measure", layer, quantity)
        if key not in self._cache:
            a = self._dataset(f"measures/layers/{layer}/{quantity}")
            if a is not None:
                a = a.astype(float)
                if a.ndim != 1:
                    raise self._error(f"measures/layers/{layer}/{quantity}",
                                      f"expected 1-D, found shape {a.shape}")
            self._cache[key] = a
        return self._cache[key]

    def pairs(self, layer: int) -> Optional[Pairs]:
        """The pair decomposition of hidden layer `layer` (`measures/layers/K/pairs`), or
        None when the network was measured without measure.pairs."""
        key = ("pairs", layer)
        if key in self._cache:
            return self._cache[key]
        where = f"measures/layers/{layer}/pairs"
        if self._subgroup(where) is None:
            self._cache[key] = None
            return None
        arrays = {}
        for name in ("first", "second") + PAIR_QUANTITIES:
            a = self._dataset(f"{where}/{name}")
            if a is None:
                raise self._error(f"{where}/{name}", "is missing")
            if a.ndim != 1:
                raise self._error(f"{where}/{name}", f"expected 1-D, found shape {a.shape}")
            arrays[name] = a.astype(np.int64 if name in ("first", "second") else float)
        size = arrays["first"].size
        for name, a in arrays.items():
            if a.size != size:
                raise self._error(f"{where}/{name}", f"has {a.size} pairs but first has {size}")
        width = self.hidden[layer] if layer < len(self.hidden) else None
        if width is not None and size != width * (width - 1) // 2:
            raise self._error(where, f"has {size} pairs, but layer {layer} has {width} neurons "
                              f"({width * (width - 1) // 2} pairs)")
        self._cache[key] = Pairs(**arrays)
        return self._cache[key]

    # -- single-neuron damage -------------------------------------------------------------
    @property
    def has_single_neuron(self) -> bool:
        return self._subgroup("single_neuron/layers") is not None

    def single_layers(self) -> List[int]:
        g = self._subgroup("single_neuron/layers")
        if g is None:
            return []
        return sorted(int(k) for k in g.keys() if k.isdigit())

    def accuracy_drop(self, layer: int) -> Optional[np.ndarray]:
        a = self._dataset(f"single_neuron/layers/{layer}/accuracy_drop")
        return None if a is None else a.astype(float).reshape(-1)

    def loss_increase(self, layer: int) -> Optional[np.ndarray]:
        a = self._dataset(f"single_neuron/layers/{layer}/loss_increase")
        return None if a is None else a.astype(float).reshape(-1)

    # -- pairwise ablation ---------------------------------------------------------------
    @property
    def has_pair_interaction(self) -> bool:
        return bool(self.pair_interaction_layers())

    def pair_interaction_layers(self) -> List[int]:
        """Hidden layers with a `pair_interaction/layers/K` group."""
        g = self._subgroup("pair_interaction/layers")
        if g is None:
            return []
        return sorted(int(k) for k in g.keys() if k.isdigit())

    def pair_interaction(self, layer: int) -> Optional[Dict[str, np.ndarray]]:
        """The pairs of hidden layer `layer` ablated together (docs/study.md): a dict of
        [Q] arrays, `first`, `second`, `group` (int: PAIR_GROUPS[group] names it) and the
        floats `accuracy_drop`, `loss_increase`, `accuracy_interaction`,
        `loss_interaction`, `redundancy`, `synergy` (those of them the file holds; the
        first four are required). None when the layer has no such group."""
        key = ("pair_interaction", layer)
        if key in self._cache:
            return self._cache[key]
        where = f"pair_interaction/layers/{layer}"
        if self._subgroup(where) is None:
            self._cache[key] = None
            return None
        out: Dict[str, np.ndarray] = {}
        for name in PAIR_COLUMNS:
            a = self._dataset(f"{where}/{name}")
            if a is None:
                if name in PAIR_REQUIRED:
                    raise self._error(where, f"has no dataset {name}")
                continue
            if a.ndim != 1:
                raise self._error(f"{where}/{name}", f"expected 1-D, found shape {a.shape}")
            out[name] = a.astype(np.int64 if name in PAIR_INTEGER else float)
        sizes = {a.size for a in out.values()}
        if len(sizes) > 1:
            raise self._error(where, "its datasets differ in length ("
                              + ", ".join(f"{k} {v.size}" for k, v in out.items()) + ")")
        bad = out["group"][(out["group"] < 0) | (out["group"] >= len(PAIR_GROUPS))]
        if bad.size:
            raise self._error(f"{where}/group", f"holds {int(bad[0])}, not a group "
                              f"(0 to {len(PAIR_GROUPS) - 1})")
        self._cache[key] = out
        return out

    # -- information plane ---------------------------------------------------------------
    @property
    def has_information_plane(self) -> bool:
        g = self._subgroup("information_plane")
        return g is not None and "entropy" in g and "mutual_information" in g

    def information_plane(self) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """(H(T) [H], I(T;Y) [H]) per hidden layer, bits; None when absent."""
        if not self.has_information_plane:
            return None
        h = self._dataset("information_plane/entropy").astype(float).reshape(-1)
        mi = self._dataset("information_plane/mutual_information").astype(float).reshape(-1)
        if h.shape != mi.shape:
            raise self._error("information_plane", f"entropy has {h.size} values but "
                              f"mutual_information has {mi.size}")
        return h, mi

    def information_plane_saturated(self) -> Optional[np.ndarray]:
        """[H] bool: H(T) >= 0.99 log2 N (N = the `measure_samples` attribute), the binned
        information plane's saturation (docs/study.md); None without the plane or N."""
        plane = self.information_plane()
        samples = _as_int(self.attrs.get("measure_samples"), None)
        if plane is None or samples is None or samples < 2:
            return None
        return plane[0] >= SATURATION * np.log2(samples)

    # -- information plane over training ----------------------------------------------------
    @property
    def has_training_plane(self) -> bool:
        g = self._subgroup("training/information_plane")
        return g is not None and "epochs" in g

    def training_plane(self) -> Optional[TrainingPlane]:
        """The snapshots of the information plane during training (`TrainingPlane`), or
        None when the network has none (no train.snapshots, or a loaded model file)."""
        if "training_plane" in self._cache:
            return self._cache["training_plane"]
        plane = None
        if self.has_training_plane:
            where = "training/information_plane"
            epochs = self._dataset(f"{where}/epochs").reshape(-1).astype(np.int64)
            if epochs.size > 1 and np.any(np.diff(epochs) <= 0):
                raise self._error(f"{where}/epochs", "must increase")
            layers_group = self._subgroup(f"{where}/layers")
            layers = sorted(int(k) for k in (layers_group.keys() if layers_group is not None
                                              else []) if k.isdigit())
            if layers != list(range(len(layers))):
                raise self._error(f"{where}/layers", f"holds layers {layers}, not 0..K-1")
            values: Dict[str, List[np.ndarray]] = {q: [] for q in TRAINING_PLANE_QUANTITIES}
            for k in layers:
                for q in TRAINING_PLANE_QUANTITIES:
                    a = self._dataset(f"{where}/layers/{k}/{q}")
                    if a is None:
                        raise self._error(f"{where}/layers/{k}", f"has no {q}")
                    a = a.reshape(-1)
                    if a.size != epochs.size:
                        raise self._error(f"{where}/layers/{k}/{q}", f"has {a.size} values "
                                          f"for {epochs.size} epochs")
                    values[q].append(a.astype(bool) if q == "saturated" else a.astype(float))
            attrs = {k: decode(v) for k, v in self._subgroup(where).attrs.items()}
            plane = TrainingPlane(epochs=epochs, **values,
                                  binning=str(attrs.get("binning") or ""),
                                  bins=_as_int(attrs.get("bins"), None),
                                  kde_noise_variance=_as_float(attrs.get("kde_noise_variance")),
                                  samples=_as_int(attrs.get("samples"), None),
                                  split=str(attrs.get("split") or ""))
        self._cache["training_plane"] = plane
        return plane

    # -- ablation curves -------------------------------------------------------------------
    @property
    def has_ablation(self) -> bool:
        return self._subgroup("ablation") is not None

    def scopes(self) -> List[str]:
        g = self._subgroup("ablation")
        if g is None:
            return []
        return sorted((k for k, v in g.items() if _is_group(v)),
                      key=scope_sort_key)

    def scope_size(self, scope: str) -> int:
        """n of a scope: its `neurons` attribute, else from the hidden widths."""
        g = self._subgroup(f"ablation/{scope}")
        n = _as_int(decode(g.attrs.get("neurons")) if g is not None else None, None)
        if n is not None and n > 0:
            return n
        if scope == "network":
            return int(sum(self.hidden))
        m = re.fullmatch(r"layer(\d+)", scope)
        if m and int(m.group(1)) < len(self.hidden):
            return int(self.hidden[int(m.group(1))])
        return 0

    def ordered_keys(self, scope: str) -> List[Tuple[str, str]]:
        """(quantity, direction) of the ordered curves of a scope, in display order."""
        g = self._subgroup(f"ablation/{scope}")
        if g is None:
            return []
        keys = []
        for q, qg in g.items():
            if q in NON_QUANTITY_SCOPE_CHILDREN or not _is_group(qg):
                continue
            for d, dg in qg.items():
                if _is_group(dg) and "accuracy" in dg:
                    keys.append((q, d))
        return sorted(keys, key=lambda k: (quantity_sort_key(k[0]), _direction_key(k[1])))

    def custom_names(self, scope: str) -> List[str]:
        g = self._subgroup(f"ablation/{scope}/custom")
        return sorted(g.keys()) if g is not None else []

    def _curve(self, where: str, random: bool, scope: str) -> Optional[Curve]:
        g = self._subgroup(where)
        if g is None or "accuracy" not in g:
            return None
        acc = self._dataset(f"{where}/accuracy").astype(float)
        want = 2 if random else 1
        if acc.ndim != want:
            raise self._error(f"{where}/accuracy",
                              f"expected {want}-D, found shape {acc.shape}")
        P = acc.shape[-1]
        ablated = self._dataset(f"{where}/ablated")
        if ablated is None:
            ablated = np.arange(P)
        ablated = np.asarray(ablated).reshape(-1).astype(np.int64)
        if ablated.size != P:
            raise self._error(f"{where}/ablated",
                              f"has {ablated.size} points but accuracy has {P}")
        if P > 1 and np.any(np.diff(ablated) <= 0):
            raise self._error(f"{where}/ablated", "must increase")
        loss = self._dataset(f"{where}/loss")
        if loss is not None:
            loss = loss.astype(float)
            if loss.shape != acc.shape:
                loss = None
        tied = None if random else _as_int(decode(g.attrs.get("tied")), None)
        return Curve(path=f"{self.path}/{where}", n=self.scope_size(scope),
                     ablated=ablated, accuracy=acc, loss=loss, tied=tied)

    def ordered(self, scope: str, quantity: str, direction: str) -> Optional[Curve]:
        key = ("ordered", scope, quantity, direction)
        if key not in self._cache:
            self._cache[key] = self._curve(f"ablation/{scope}/{quantity}/{direction}",
                                           False, scope)
        return self._cache[key]

    def random(self, scope: str) -> Optional[Curve]:
        """The R random curves of a scope (accuracy [R, P]); None without --random."""
        key = ("random", scope)
        if key not in self._cache:
            self._cache[key] = self._curve(f"ablation/{scope}/random", True, scope)
        return self._cache[key]

    def per_class(self, scope: str, quantity: str, direction: str) -> Optional[np.ndarray]:
        """per_class_accuracy [P, C] of an ordered curve (NaN: class absent), or None."""
        where = f"ablation/{scope}/{quantity}/{direction}/per_class_accuracy"
        a = self._dataset(where)
        if a is None:
            return None
        a = a.astype(float)
        if a.ndim == 1:
            a = a[:, None]
        if a.ndim != 2:
            raise self._error(where, f"expected [P, C], found shape {a.shape}")
        return a


class SettingView(Network):
    """A `Network` under a further measure setting (`Network.in_setting`): reads
    `settings/<setting>/measures`, `settings/<setting>/information_plane` and
    `settings/<setting>/ablation/<scope>/<quantity>` (binning-dependent quantities) in
    place of the default paths; everything else is the network's own."""

    def __init__(self, base: Network, setting: str):
        self.__dict__.update({k: v for k, v in base.__dict__.items() if k != "_cache"})
        self._cache = {}
        self.base = base
        self.setting = setting

    def _where(self, where: str) -> str:
        parts = where.split("/")
        own = f"settings/{self.setting}/"
        if parts[0] in ("measures", "information_plane"):
            return own + where
        if parts[0] == "ablation" and len(parts) >= 3 and parts[2] not in \
                NON_QUANTITY_SCOPE_CHILDREN and depends_on_binning(parts[2]):
            return own + where
        return where

    def _dataset(self, where: str):
        return Network._dataset(self, self._where(where))

    def _subgroup(self, where: str):
        return Network._subgroup(self, self._where(where))

    @property
    def settings(self) -> List[str]:
        return self.base.settings


@dataclass
class CurveTable:
    """One curve (scope, quantity, direction) of many networks, stacked row by row.

    Row i belongs to networks[i]. Curves of different lengths are padded at the end:
    accuracy and loss with NaN, ablated with -1. accuracy is [N, P] for ordered curves and
    [N, R, P] for random ones; n [N] is each network's scope size.
    """
    path: str
    networks: List[str]
    n: np.ndarray
    ablated: np.ndarray
    accuracy: np.ndarray
    loss: Optional[np.ndarray]

    @property
    def fraction(self) -> np.ndarray:
        """ablated / n per row (NaN in the padding)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            f = self.ablated / self.n[:, None].astype(float)
        return np.where(self.ablated >= 0, f, np.nan)

    @staticmethod
    def stack(path: str, found) -> "CurveTable":
        """From (name, n, ablated [P], accuracy [..., P], loss or None) per network."""
        P = max((x.shape[-1] for _, _, _, x, _ in found), default=0)
        lead = found[0][3].shape[:-1] if found else ()
        N = len(found)
        ablated = np.full((N, P), -1, dtype=np.int64)
        accuracy = np.full((N,) + lead + (P,), np.nan)
        loss = np.full(accuracy.shape, np.nan)
        any_loss = False
        for i, (_, _, x, acc, lo) in enumerate(found):
            if acc.shape[:-1] != lead:
                raise ValueError(f"{path}: accuracy shapes differ between networks")
            ablated[i, :x.size] = x
            accuracy[i, ..., :acc.shape[-1]] = acc
            if lo is not None:
                loss[i, ..., :lo.shape[-1]] = lo
                any_loss = True
        return CurveTable(path=path, networks=[f[0] for f in found],
                          n=np.array([f[1] for f in found], dtype=np.int64),
                          ablated=ablated, accuracy=accuracy,
                          loss=loss if any_loss else None)


def _direction_key(d: str):
    return (DIRECTIONS.index(d), d) if d in DIRECTIONS else (len(DIRECTIONS), d)


class Results:
    """An open ioca file: a study results file (`kind` "study"), or a single measures
    ("measures") or ablation ("ablation") file read as a study of one network. Use as a
    context manager or call close().

    measures: for an ablation file, the measures file of the same model (its per-neuron
    quantities then join the analysis: Spearman, scatter, distributions). Without it, the
    file the ablation file names in its `measures` attribute is used when it exists and is
    of the same model."""

    def __init__(self, path, measures=None):
        self.path = str(path)
        self.notes: List[str] = []
        self.kind = "study"
        self._extra_files: List[h5py.File] = []
        self._measures_path = None if measures is None else str(measures)
        if not os.path.exists(self.path):
            raise ResultsError(f"{self.path}: no such file")
        if os.path.isdir(self.path):
            raise ResultsError(f"{self.path}: is a directory, not a results file")
        if not os.access(self.path, os.R_OK):
            raise ResultsError(f"{self.path}: permission denied")
        try:
            is_hdf5 = h5py.is_hdf5(self.path)
        except OSError as exc:
            raise ResultsError(f"{self.path}: cannot be read ({exc.strerror or exc})") from None
        if not is_hdf5:
            raise ResultsError(f"{self.path}: not an HDF5 file (expected an ioca results file)")
        try:
            self._file = h5py.File(self.path, "r", rdcc_nbytes=CHUNK_CACHE_BYTES)
        except OSError as exc:
            raise ResultsError(f"{self.path}: cannot be opened as HDF5 ({exc})") from None
        try:
            self._validate()
        except ResultsError:
            self.close()
            raise

    def _validate(self):
        f = self._file
        self.attrs = {k: decode(v) for k, v in f.attrs.items()}
        if FORMAT_ATTRIBUTE not in self.attrs:
            for kind, attribute in single.SINGLE_KINDS.items():
                if attribute in self.attrs:
                    self._open_single(kind, attribute)
                    return
            hint = (" (it has ioca_model_format: an ioca model file; measure and ablate it "
                    "first)") if "ioca_model_format" in self.attrs else ""
            raise ResultsError(f"{self.path}: not an ioca results, measures or ablation "
                               f"file: no root attribute {FORMAT_ATTRIBUTE}, "
                               f"ioca_measures_format or ioca_ablation_format{hint}")
        if self._measures_path is not None:
            raise ResultsError(f"{self.path}: a measures file goes with an ablation file, "
                               "not with a study results file (which holds its measures)")
        version = _as_int(self.attrs[FORMAT_ATTRIBUTE], None)
        if version is None or version < 1:
            raise ResultsError(f"{self.path}: root attribute {FORMAT_ATTRIBUTE} is "
                               f"{self.attrs[FORMAT_ATTRIBUTE]!r}, not a format version")
        if version > SUPPORTED_FORMAT:
            self.notes.append(f"results format {version} is newer than this reader "
                              f"({SUPPORTED_FORMAT}); reading what it knows")
        self.format_version = version
        nets = f.get("networks")
        if not isinstance(nets, h5py.Group):
            raise ResultsError(f"{self.path}: no /networks group (not a complete ioca "
                               "results file)")
        self._packed = None
        if version == 2 and not packed.is_packed(f):
            raise ResultsError(f"{self.path}: results format 2 without the table "
                               "/networks/name (see docs/study.md)")
        # The layout picks the reader, so a newer version number on a format-1 layout
        # (or on format 2) is still read as far as this reader knows it.
        groups = self._packed_groups() if packed.is_packed(f) else {
            name: g for name, g in nets.items() if isinstance(g, h5py.Group)}
        self.networks: List[Network] = [Network(self, name, g) for name, g in groups.items()]
        if not self.networks:
            raise ResultsError(f"{self.path}: /networks holds no network")
        self.networks.sort(key=lambda n: (n.index if n.index is not None else 1 << 62,
                                          n.name))
        complete = _as_int(self.attrs.get("complete"), None)
        self.complete = complete
        segment = _as_int(self.attrs.get("checkpoint_segment"), 0)
        if complete == 0 and segment:
            self.notes.append(f"the file is segment {segment} of a checkpoint: it holds only the "
                              "tasks finished since the checkpoint file before it (a network's "
                              "model and measures are in an earlier file; see docs/study.md)")
        elif complete == 0:
            self.notes.append("the file is a checkpoint (root attribute complete = 0): "
                              "some results may be missing")
        declared = _as_int(self.attrs.get("networks"), None)
        if declared is not None and declared != len(self.networks):
            self.notes.append(f"root attribute networks = {declared} but /networks holds "
                              f"{len(self.networks)} networks")
        self.study_name = str(self.attrs.get("study_name") or "")
        conditions: Dict[Tuple, Condition] = {}
        for net in self.networks:
            conditions.setdefault(net.condition_key, Condition(net.condition_key))
            conditions[net.condition_key].networks.append(net)
        for c in conditions.values():
            c.networks.sort(key=lambda n: (n.seed is None, n.seed if n.seed is not None else 0,
                                           n.name))
        self.conditions: List[Condition] = list(conditions.values())

    def _open_single(self, kind: str, attribute: str):
        """One network from a measures or ablation file (`single.MountedGroup`)."""
        version = _as_int(self.attrs[attribute], None)
        if version is None or version < 1:
            raise ResultsError(f"{self.path}: root attribute {attribute} is "
                               f"{self.attrs[attribute]!r}, not a format version")
        if kind == "measures" and self._measures_path is not None:
            raise ResultsError(f"{self.path}: a measures file goes with an ablation file, "
                               "not with another measures file")
        self.kind = kind
        self.format_version = version
        self.complete = 1
        self.study_name = ""
        self._packed = None
        root = self._file
        attrs = dict(self.attrs)
        mounts = []
        model = single.find_beside(str(attrs.get("model") or ""), self.path)
        from_model = {k: decode(v) for k, v in single.model_attributes(model).items()}
        if kind == "measures":
            if not isinstance(root.get("layers"), h5py.Group):
                raise ResultsError(f"{self.path}: an ioca measures file without /layers")
            mounts.append(("measures", root))
            widths = []
            for k in sorted(int(k) for k in root["layers"].keys() if k.isdigit()):
                entropy = root["layers"][str(k)].get("entropy")
                widths.append(int(entropy.shape[0]) if isinstance(entropy, h5py.Dataset) else 0)
            attrs.setdefault("hidden", ",".join(str(w) for w in widths))
            attrs["measure_samples"] = attrs.get("samples")
        else:
            if not any(isinstance(root.get(g), h5py.Group) for g in ("ablation", "single_neuron")):
                raise ResultsError(f"{self.path}: an ioca ablation file without /ablation or "
                                   "/single_neuron")
            # The ablation's seed is S of its orders (default: the model's seed).
            attrs["ablation_seed"] = attrs.get("seed")
            attrs["test_accuracy"] = attrs.get("intact_accuracy")
            attrs["test_loss"] = attrs.get("intact_loss")
            measures = self._measures_path
            recorded = single.find_beside(str(attrs.get("measures") or ""), self.path)
            if measures is None and recorded is not None:
                measures = recorded
            if measures is not None:
                mroot = self._open_measures(measures, attrs.get("model_fingerprint"),
                                            explicit=self._measures_path is not None)
                if mroot is not None:
                    mounts.append(("measures", mroot))
                    self.notes.append(f"per-neuron measures read from {measures}")
                    for k in ("binning", "bins", "estimator", "zero_bin"):
                        if k in mroot.attrs:
                            attrs.setdefault(k, decode(mroot.attrs[k]))
            elif attrs.get("measures"):
                self.notes.append(f"the measures file {attrs['measures']} named by the ablation "
                                  "file was not found: no per-neuron measures (pass it with "
                                  "--measures)")
            mounts.append(("", root))
        for k, v in from_model.items():
            if k == "seed" or k not in attrs or attrs[k] in (None, ""):
                attrs[k] = v
        if not from_model:
            self.notes.append("the model file " + (f"{attrs['model']} " if attrs.get("model")
                                                   else "") + "was not found: activation "
                              "unknown" + ("" if kind == "measures" else ", seed = the "
                                           "ablation's seed"))
        name = os.path.splitext(os.path.basename(self.path))[0]
        group = single.MountedGroup("", attrs, mounts)
        self.networks = [Network(self, name, group)]
        self.conditions = [Condition(self.networks[0].condition_key, list(self.networks))]

    def _open_measures(self, path: str, fingerprint, explicit: bool):
        """The root of a measures file for an ablation file; None (with a note) when it is
        of another model and was only found, not given."""
        try:
            f = h5py.File(path, "r")
        except OSError as exc:
            raise ResultsError(f"{path}: cannot be opened as HDF5 ({exc})") from None
        self._extra_files.append(f)
        if "ioca_measures_format" not in f.attrs:
            raise ResultsError(f"{path}: not an ioca measures file (no ioca_measures_format)")
        theirs = decode(f.attrs.get("model_fingerprint"))
        if fingerprint and theirs and str(theirs) != str(fingerprint):
            message = (f"{path}: measures of model {theirs}, but {self.path} ablates model "
                       f"{fingerprint}")
            if explicit:
                raise ResultsError(message)
            self.notes.append(message + ": not used")
            return None
        return f

    def _packed_groups(self) -> Dict:
        """The network groups of a format-2 file (its tables read once)."""
        try:
            self._packed = packed.PackedFile(self._file)
        except packed.PackedError as exc:
            raise ResultsError(f"{self.path}: {exc}") from None
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise ResultsError(f"{self.path}: the format-2 tables cannot be read "
                               f"({exc})") from None
        self.notes.extend(self._packed.notes)
        return self._packed.networks

    # -- notebook use -----------------------------------------------------------------
    def network(self, name: str) -> Network:
        """The network called `name` (e.g. "mnist-relu-64x32-s1"); KeyError if absent."""
        if not hasattr(self, "_by_name"):
            self._by_name = {net.name: net for net in self.networks}
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"{self.path}: no network {name!r}") from None

    @property
    def settings(self) -> List[str]:
        """The measure settings of the study, in order (the first at the default paths):
        the union over the networks, one name for a study of a single setting."""
        out: List[str] = []
        for net in self.networks:
            out += [s for s in net.settings if s not in out]
        return out

    def curves(self, scope: str, quantity: str, direction: str = "",
               setting: Optional[str] = None) -> "CurveTable":
        """One curve of every network that has it, as arrays (see `CurveTable`).

        quantity "random" gives the random curves (direction is then ignored). A format-2
        file is read with a few vectorised look-ups in its tables and few HDF5 reads.
        setting: a measure setting (`settings`); None or the first is the default paths.
        """
        where = (f"ablation/{scope}/random" if quantity == "random"
                 else f"ablation/{scope}/{quantity}/{direction}")
        if setting is not None and setting != self.settings[0] and quantity != "random" \
                and depends_on_binning(quantity):
            where = f"settings/{setting}/{where}"
        if self._packed is not None:
            return self._packed_curves(where, scope)
        found = []
        for net in self.networks:
            view = net.in_setting(setting) if setting in net.settings else net
            if setting is not None and setting not in net.settings:
                continue
            c = (view.random(scope) if quantity == "random"
                 else view.ordered(scope, quantity, direction))
            if c is not None:
                found.append((net.name, c.n, c.ablated, c.accuracy, c.loss))
        return CurveTable.stack(where, found)

    def _packed_curves(self, where: str, scope: str) -> "CurveTable":
        p = self._packed
        acc_rows = p.rows_with_path(f"{where}/accuracy")
        net_rows = p.ds_net_row[acc_rows]
        names = [str(n) for n in p.names[net_rows]]
        n = self._scope_sizes(scope, net_rows, names)

        def aligned(part):
            """Arrays of `part` for the networks of acc_rows (None where absent)."""
            rows = p.rows_with_path(f"{where}/{part}")
            at = dict(zip(p.ds_net_row[rows].tolist(), rows.tolist()))
            want = [at.get(r, -1) for r in net_rows.tolist()]
            values = p.read_rows([w for w in want if w >= 0])
            it = iter(values)
            return [next(it) if w >= 0 else None for w in want]

        accuracy = p.read_rows(acc_rows)
        ablated, loss = aligned("ablated"), aligned("loss")
        found = []
        for i, name in enumerate(names):
            acc = accuracy[i].astype(float)
            x = (np.arange(acc.shape[-1]) if ablated[i] is None
                 else ablated[i].reshape(-1).astype(np.int64))
            lo = None if loss[i] is None or loss[i].shape != acc.shape else loss[i].astype(float)
            found.append((name, n[i], x, acc, lo))
        return CurveTable.stack(where, found)

    def _scope_sizes(self, scope: str, net_rows, names) -> List[int]:
        """n of the scope per network: the `neurons` attributes, else Network.scope_size."""
        p = self._packed
        rows = p.attribute_rows(f"ablation/{scope}", "neurons")
        at = dict(zip(p.attr_net_row[rows].tolist(), rows.tolist()))
        sizes = []
        for r, name in zip(net_rows.tolist(), names):
            n = _as_int(p.attribute_value(at[r]), 0) if r in at else 0
            sizes.append(n if n > 0 else self.network(name).scope_size(scope))
        return sizes

    # -- tidy tables (pandas; frames.py) ---------------------------------------------------
    def networks_df(self):
        """One row per network (`frames.networks`)."""
        from . import frames
        return frames.networks(self)

    def curves_df(self, scope=None, quantity=None, random=True, setting=None):
        """Every point of every ablation curve, one row each (`frames.curves`)."""
        from . import frames
        return frames.curves(self, scope, quantity, random, setting)

    def measures_df(self, setting=None):
        """One row per hidden neuron: its quantities and damage (`frames.measures`)."""
        from . import frames
        return frames.measures(self, setting)

    def auc_df(self):
        """One row per network and curve: AUC and gap to random (`frames.auc`)."""
        from . import frames
        return frames.auc(self)

    def summary_df(self, p_family="report"):
        """Summary statistics over seeds per condition and curve (`frames.summary`)."""
        from . import frames
        return frames.summary(self, p_family=p_family)

    def spearman_df(self):
        """Spearman ρ with single-neuron damage over seeds (`frames.spearman`)."""
        from . import frames
        return frames.spearman(self)

    def verify(self) -> List[str]:
        """Format 2: the arrays whose values do not match their checksum, as
        "<net>/<path>" (empty when all match). Format 1 has no per-array checksums: []."""
        if self._packed is None:
            return []
        p = self._packed
        return [f"{p.names[p.ds_net_row[r]] if p.ds_net_row[r] >= 0 else '?'}/{p.paths[r]}"
                for r in p.verify()]

    def close(self):
        for f in self._extra_files:
            f.close()
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
