"""The pair decomposition (measure.pairs): `Network.pairs` on results files of both formats
and under a further measure setting, and `ioca measure --pairs` against a numpy
implementation of Williams and Beer's I_min on the neurons' saved (bin, class) counts."""

import subprocess

import h5py
import numpy as np
import pytest
from ioca_results_factory import as_version, write_results

from ioca_analysis.results import PAIR_QUANTITIES, Results, ResultsError

NET = "synthetic-relu-5x3-s1"
OTHER = "quantile-10-plugin"


def _pairs(n, rng):
    first, second = zip(*[(i, j) for i in range(n) for j in range(i + 1, n)])
    arrays = {"first": np.array(first, np.int64), "second": np.array(second, np.int64)}
    for name in PAIR_QUANTITIES:
        arrays[name] = rng.random(len(first))
    return arrays


def _write(tmp_path, version, bad=None):
    path = tmp_path / f"pairs-v{version}.h5"
    write_results(path, conditions=(("synthetic", "relu", (5, 3)),), seeds=(1,))
    rng = np.random.default_rng(4)
    written = {"default": _pairs(5, rng), OTHER: _pairs(5, rng)}
    with h5py.File(path, "r+") as f:
        net = f[f"networks/{NET}"]
        net.attrs["measure_settings"] = f"uniform-30-plugin,{OTHER}"
        other = net.create_group(f"settings/{OTHER}")
        net.copy("measures", other)
        for where, arrays in ((net, written["default"]), (other, written[OTHER])):
            g = where.create_group("measures/layers/0/pairs")
            for name, values in arrays.items():
                g[name] = values[:-1] if name == bad else values
    as_version(path, version)
    return path, written


@pytest.mark.parametrize("version", [1, 2])
def test_pairs_are_read_and_none_when_absent(tmp_path, version):
    path, written = _write(tmp_path, version)
    with Results(path) as r:
        net = r.network(NET)
        p = net.pairs(0)
        assert len(p) == 10
        for name, values in written["default"].items():
            np.testing.assert_array_equal(getattr(p, name), values)
        assert p.first.dtype == np.int64 and p.synergy.dtype == np.float64
        assert net.pairs(1) is None  # layer 1 measured without pairs
        # A further setting reads its own pairs.
        q = net.in_setting(OTHER).pairs(0)
        np.testing.assert_array_equal(q.redundancy, written[OTHER]["redundancy"])
        # The pairs are not per-neuron quantities.
        assert "redundancy" not in net.measure_names(0)
        # As a matrix: symmetric, NaN on the diagonal, unique information of the row's neuron.
        m = p.matrix("synergy")
        assert m.shape == (5, 5) and np.isnan(np.diag(m)).all()
        assert m[1, 3] == m[3, 1] == p.synergy[list(zip(p.first, p.second)).index((1, 3))]
        u = p.matrix("unique_first")
        k = list(zip(p.first, p.second)).index((0, 4))
        assert u[0, 4] == p.unique_first[k] and u[4, 0] == p.unique_second[k]


@pytest.mark.parametrize("version", [1, 2])
def test_malformed_pairs_name_the_file_and_path(tmp_path, version):
    path, _ = _write(tmp_path, version, bad="synergy")
    with Results(path) as r:
        with pytest.raises(ResultsError, match=r"pairs/synergy.*9 pairs but first has 10"):
            r.network(NET).pairs(0)


def _specific(counts):
    """I_spec(y;T) = sum_t p(t|y) log2(p(y|t)/p(y)) per class of a [bins, classes] table."""
    counts = counts.astype(float)
    n, ct, ny = counts.sum(), counts.sum(axis=1), counts.sum(axis=0)
    out = np.zeros(counts.shape[1])
    for y in np.flatnonzero(ny):
        t = counts[:, y] > 0
        out[y] = np.sum(counts[t, y] / ny[y] * np.log2(counts[t, y] / ct[t] / (ny[y] / n)))
    return out


def _mutual_information(counts):
    counts = counts.astype(float)
    p = counts / counts.sum()
    outer = p.sum(axis=1, keepdims=True) * p.sum(axis=0, keepdims=True)
    nz = p > 0
    return float(np.sum(p[nz] * np.log2(p[nz] / outer[nz])))


def test_measure_pairs_redundancy_against_numpy(ioca_bin, tmp_path):
    """Redundancy and the unique parts need only each neuron's (bin, class) table, which
    --save-histograms keeps: numpy recomputes them; the synergy then follows from the
    joint MI, which must be at least either neuron's MI."""
    model, out = tmp_path / "m.h5", tmp_path / "pairs.h5"
    subprocess.run([str(ioca_bin), "train", "--dataset", "synthetic", "--synthetic-samples",
                    "3000", "--synthetic-features", "16", "--hidden", "12", "--epochs", "1",
                    "--out", str(model), "--quiet"], check=True, capture_output=True, timeout=300)
    subprocess.run([str(ioca_bin), "measure", "--model", str(model), "--out", str(out),
                    "--pairs", "--save-histograms", "--estimator", "miller-madow"],
                   check=True, capture_output=True, timeout=300)
    with h5py.File(out, "r") as f:
        h = f["layers/0/histogram"][()]
        p = {k: v[()] for k, v in f["layers/0/pairs"].items()}
    ny = h[0].sum(axis=0)
    weight = ny / ny.sum()
    spec = np.array([_specific(c) for c in h])
    mi = np.array([_mutual_information(c) for c in h])  # plug-in, whatever the estimator
    i, j = p["first"], p["second"]
    redundancy = np.sum(weight * np.minimum(spec[i], spec[j]), axis=1)
    np.testing.assert_allclose(p["redundancy"], redundancy, rtol=0, atol=1e-12)
    np.testing.assert_allclose(p["unique_first"], mi[i] - redundancy, rtol=0, atol=1e-12)
    np.testing.assert_allclose(p["unique_second"], mi[j] - redundancy, rtol=0, atol=1e-12)
    joint = p["joint_mutual_information"]
    assert np.all(joint >= np.maximum(mi[i], mi[j]) - 1e-12)
    np.testing.assert_allclose(p["synergy"], joint - mi[i] - mi[j] + redundancy, atol=1e-12)
    np.testing.assert_allclose(p["co_information"], mi[i] + mi[j] - joint, atol=1e-12)
    assert redundancy.max() > 0.01  # the network has learnt something
