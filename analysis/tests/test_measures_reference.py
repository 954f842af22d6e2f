"""`ioca measure` against independent implementations on the same binned data.

ioca stores every neuron's (bin, class) counts with --save-histograms; scikit-learn's
mutual_info_score and scipy's entropy recompute the quantities from those counts.
"""

import math
import subprocess

import h5py
import numpy as np
import pytest
from scipy.stats import entropy as scipy_entropy
from sklearn.metrics import mutual_info_score

LN2 = math.log(2.0)


@pytest.fixture(scope="module")
def synthetic_model(ioca_bin, tmp_path_factory):
    """A small relu network trained for two epochs on synthetic data."""
    folder = tmp_path_factory.mktemp("measure_model")
    model = folder / "model.h5"
    subprocess.run([str(ioca_bin), "train", "--dataset", "synthetic", "--synthetic-samples", "4000",
                    "--synthetic-features", "20", "--hidden", "40,25", "--epochs", "2",
                    "--out", str(model), "--quiet"], check=True, capture_output=True, timeout=300)
    return model


def run_measure(ioca_bin, model, out, *options):
    subprocess.run([str(ioca_bin), "measure", "--model", str(model), "--out", str(out),
                    "--save-histograms", *options], check=True, capture_output=True, timeout=300)
    return h5py.File(out, "r")


def miller_madow(counts):
    """(m - 1) / (2 N ln 2) for a vector of counts."""
    counts = np.asarray(counts)
    n = counts.sum()
    return (np.count_nonzero(counts) - 1) / (2.0 * n * LN2) if n else 0.0


@pytest.mark.parametrize("binning", [["--binning", "uniform"], ["--binning", "quantile", "--bins", "8"],
                                     ["--binning", "uniform-layer", "--zero-bin"],
                                     ["--binning", "binary"]])
def test_plugin_quantities_match_sklearn_and_scipy(ioca_bin, synthetic_model, tmp_path, binning):
    with run_measure(ioca_bin, synthetic_model, tmp_path / "m.h5", *binning) as f:
        assert f.attrs["estimator"] == "plugin"
        checked = 0
        for layer in f["layers"].values():
            hist = layer["histogram"][...]
            for j, table in enumerate(hist):  # table: [bins, classes]
                mi = mutual_info_score(None, None, contingency=table) / LN2
                assert layer["mutual_information"][j] == pytest.approx(mi, abs=1e-9)
                marginal = table.sum(axis=1)
                assert layer["entropy"][j] == pytest.approx(scipy_entropy(marginal, base=2), abs=1e-9)
                present = [y for y in range(table.shape[1]) if table[:, y].sum() > 0]
                kl = [scipy_entropy(table[:, y], marginal, base=2) for y in present]
                assert layer["kl_selectivity"][j] == pytest.approx(max(kl), abs=1e-9)
                assert kl[present.index(layer["kl_selectivity_class"][j])] == pytest.approx(max(kl), abs=1e-12)
                checked += 1
        assert checked == 65


def test_miller_madow_matches_its_definition(ioca_bin, synthetic_model, tmp_path):
    with run_measure(ioca_bin, synthetic_model, tmp_path / "mm.h5", "--estimator", "miller-madow") as f:
        assert f.attrs["estimator"] == "miller-madow"
        for layer in f["layers"].values():
            for j, table in enumerate(layer["histogram"][...]):
                n = table.sum()
                marginal = table.sum(axis=1)
                h = scipy_entropy(marginal, base=2) + miller_madow(marginal)
                h_cond = sum(table[:, y].sum() / n * (scipy_entropy(table[:, y], base=2) + miller_madow(table[:, y]))
                             for y in range(table.shape[1]) if table[:, y].sum() > 0)
                assert layer["entropy"][j] == pytest.approx(h, abs=1e-9)
                assert layer["mutual_information"][j] == pytest.approx(h - h_cond, abs=1e-9)


def test_histograms_cover_the_split_and_the_file_records_its_settings(ioca_bin, synthetic_model, tmp_path):
    with run_measure(ioca_bin, synthetic_model, tmp_path / "s.h5", "--bins", "12") as f:
        samples = int(f.attrs["samples"])
        assert samples == 1000  # the synthetic validation split
        assert f.attrs["binning"] == "uniform" and int(f.attrs["bins"]) == 12
        assert len(f.attrs["model_fingerprint"]) == 16
        for layer in f["layers"].values():
            hist = layer["histogram"][...]
            assert hist.shape[1] == 12
            assert (hist.sum(axis=(1, 2)) == samples).all()
            assert layer["entropy"].dtype == np.float64
            assert layer["kl_selectivity_class"].dtype == np.int64
