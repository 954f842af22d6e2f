"""Measure settings: the reader's view of a further setting, and "holds in k of K settings"
(analysis/README.md) on a file with known curves and measures."""

import h5py
import numpy as np
import pytest
from ioca_results_factory import as_version, write_results

from ioca_analysis import report, tables
from ioca_analysis.results import Results, depends_on_binning, setting_name

NET = "synthetic-relu-4-s{}"
SEEDS = (1, 2, 3, 4, 5, 6)  # the exact sign-flip test reaches p = 2/64 < 0.05 with 6 seeds
OTHER = "quantile-10-plugin"


def _write(tmp_path, settings):
    """Per seed: the first setting's mutual_information ranks importance (ascending gap > 0,
    descending gap < 0, rho = +1); the second setting (when asked) has an ascending curve
    equal to random (gap 0) and rho = -1, its descending curve still below random."""
    path = tmp_path / "settings.h5"
    write_results(path, conditions=(("synthetic", "relu", (4,)),), seeds=SEEDS,
                  quantities=("mutual_information", "outgoing_l2"), repeats=2)
    with h5py.File(path, "r+") as f:
        for s in SEEDS:
            net = f[f"networks/{NET.format(s)}"]
            drop = net["single_neuron/layers/0/accuracy_drop"][()]
            net["measures/layers/0/mutual_information"][...] = drop
            for scope in ("layer0", "network"):
                g = net[f"ablation/{scope}"]
                g["mutual_information/ascending/accuracy"][...] = np.linspace(0.9, 0.7, 5) + s / 100
                g["mutual_information/descending/accuracy"][...] = np.linspace(0.5, 0.1, 5)
                g["random/accuracy"][...] = np.array([np.full(5, 0.6), np.full(5, 0.4)])
            if not settings:
                continue
            net.attrs["measure_settings"] = f"uniform-30-plugin,{OTHER}"
            other = net.create_group(f"settings/{OTHER}")
            net.copy("measures", other)
            net.copy("information_plane", other)
            other["measures/layers/0/mutual_information"][...] = -drop
            for scope in ("layer0", "network"):
                net.copy(f"ablation/{scope}/mutual_information", other,
                         name=f"ablation/{scope}/mutual_information")
                g = other[f"ablation/{scope}/mutual_information"]
                g["ascending/accuracy"][...] = np.full(5, 0.5)
                g["descending/accuracy"][...] = np.linspace(0.6, 0.2, 5)
    return path


@pytest.fixture
def multi(tmp_path, version):
    return as_version(_write(tmp_path, True), version)


def test_setting_names_and_binning_dependence():
    assert setting_name("uniform", 30, "plugin") == "uniform-30-plugin"
    assert setting_name("binary", 30, "miller-madow") == "binary-miller-madow"
    assert depends_on_binning("entropy") and depends_on_binning("kl_selectivity")
    assert not depends_on_binning("outgoing_l2") and not depends_on_binning("single_damage")


def test_reader_view_of_a_setting(multi):
    with Results(multi) as r:
        assert r.settings == ["uniform-30-plugin", OTHER]
        net = r.network(NET.format(1))
        assert net.in_setting("uniform-30-plugin") is net
        view = net.in_setting(OTHER)
        drop = net.accuracy_drop(0)
        np.testing.assert_array_equal(view.measure(0, "mutual_information"), -drop)
        np.testing.assert_array_equal(net.measure(0, "mutual_information"), drop)
        assert view.ordered("layer0", "mutual_information", "ascending").accuracy == \
            pytest.approx(np.full(5, 0.5))
        # Shared: random curves, damage, binning-independent quantities and their curves.
        np.testing.assert_array_equal(view.random("layer0").accuracy, net.random("layer0").accuracy)
        np.testing.assert_array_equal(view.accuracy_drop(0), drop)
        np.testing.assert_array_equal(view.measure(0, "outgoing_l2"), net.measure(0, "outgoing_l2"))
        np.testing.assert_array_equal(view.ordered("layer0", "outgoing_l2", "ascending").accuracy,
                                      net.ordered("layer0", "outgoing_l2", "ascending").accuracy)
        assert view.ordered_keys("layer0") == net.ordered_keys("layer0")
        with pytest.raises(KeyError):
            net.in_setting("uniform-99-plugin")
        table = r.curves("layer0", "mutual_information", "ascending", setting=OTHER)
        assert table.accuracy.shape == (len(SEEDS), 5) and np.all(table.accuracy == 0.5)
        first = r.curves("layer0", "mutual_information", "ascending")
        assert first.accuracy[0] == pytest.approx(np.linspace(0.9, 0.7, 5) + 0.01)
        shared = r.curves("layer0", "outgoing_l2", "ascending", setting=OTHER)
        np.testing.assert_array_equal(shared.accuracy,
                                      r.curves("layer0", "outgoing_l2", "ascending").accuracy)


def test_holds_k_of_k(multi):
    with Results(multi) as r:
        t = tables.compute(r)
    h = t.holds
    assert h["settings"] == ["uniform-30-plugin", OTHER] and h["level"] == 0.05
    cond = "synthetic-relu-4"
    # ascending gap: +0.2..0.26 in the first setting, exactly 0 in the other.
    assert h["gap"][(cond, "layer0", "mutual_information", "ascending")] == 1
    # descending gap: negative in both, every seed.
    assert h["gap"][(cond, "layer0", "mutual_information", "descending")] == 2
    assert h["asc_desc"][(cond, "layer0", "mutual_information")] == 2
    # rho = +1 in the first setting, -1 in the other: the sign does not hold.
    assert h["spearman"][(cond, "mutual_information", "layer0")] == 1
    # Binning-independent quantities: the same values in every setting, so 0 or K.
    for key, k in h["gap"].items():
        if key[2] == "outgoing_l2":
            assert k in (0, 2)
    dts = report.display_tables(t)
    auc = next(d for d in dts if d.kind == "auc")
    assert auc.columns[-1] == report.HOLDS_COLUMN
    row = next(x for x in auc.rows if x[:3] == ["layer0", "mutual_information", "ascending"])
    assert row[-1] == "1/2"
    sp = next(d for d in dts if d.kind == "spearman")
    assert sp.columns[-1].startswith(report.HOLDS_COLUMN)
    mi = next(x for x in sp.rows if x[0] == "mutual_information")
    assert mi[-1].split(", ")[0] == "1/2"


def test_single_setting_is_k_of_1(tmp_path, version):
    path = as_version(_write(tmp_path, False), version)
    with Results(path) as r:
        assert len(r.settings) == 1
        h = tables.compute(r).holds
    assert len(h["settings"]) == 1
    assert h["gap"][("synthetic-relu-4", "layer0", "mutual_information", "ascending")] == 1
    assert h["spearman"][("synthetic-relu-4", "mutual_information", "layer0")] == 1
    assert all(k in (0, 1) for kind in ("gap", "asc_desc", "spearman") for k in h[kind].values())


def test_tidy_tables_of_a_setting(multi):
    with Results(multi) as r:
        c = r.curves_df(scope="layer0", quantity="mutual_information", setting=OTHER)
        asc = c[(c.network == NET.format(2)) & (c.direction == "ascending")]
        np.testing.assert_array_equal(asc["accuracy"], np.full(5, 0.5))   # the setting's
        first = r.curves_df(scope="layer0", quantity="mutual_information")
        asc = first[(first.network == NET.format(2)) & (first.direction == "ascending")]
        np.testing.assert_allclose(asc["accuracy"], np.linspace(0.9, 0.7, 5) + 0.02)
        m = r.measures_df(setting=OTHER)
        np.testing.assert_array_equal(m["mutual_information"], -m["accuracy_drop"])
