"""ioca_analysis.tables: the report's numbers, checked on files with known curves."""

import h5py
import numpy as np
import pytest
from ioca_results_factory import as_version, write_results

from ioca_analysis import stats, tables
from ioca_analysis.results import Results

NET = "synthetic-relu-4-s{}"


@pytest.fixture
def known(tmp_path, version):
    """One condition, seeds 1..5, one layer of 4 neurons, curves overwritten by hand.

    Per seed s: ascending mutual_information linear 0.9 -> 0.5 plus s/100 (AUC 0.7 + s/100),
    descending linear 0.9 -> 0.1 (AUC 0.5), random curves constant 0.6 and 0.4 (mean
    random AUC 0.5).
    """
    path = tmp_path / "known.h5"
    write_results(path, conditions=(("synthetic", "relu", (4,)),), seeds=(1, 2, 3, 4, 5),
                  quantities=("mutual_information",), repeats=2)
    with h5py.File(path, "r+") as f:
        for s in range(1, 6):
            for scope in ("layer0", "network"):
                g = f[f"networks/{NET.format(s)}/ablation/{scope}"]
                g["mutual_information/ascending/accuracy"][...] = np.linspace(0.9, 0.5, 5) + s / 100
                g["mutual_information/descending/accuracy"][...] = np.linspace(0.9, 0.1, 5)
                g["random/accuracy"][...] = np.array([np.full(5, 0.6), np.full(5, 0.4)])
    return as_version(path, version)


def test_auc_table_by_hand(known):
    with Results(known) as r:
        t = tables.compute(r)
    rows = {(x["scope"], x["quantity"], x["direction"]): x for x in t.auc}
    asc = rows[("layer0", "mutual_information", "ascending")]
    assert [e["auc"] for e in asc["per_seed"]] == pytest.approx([0.7 + s / 100
                                                                 for s in range(1, 6)])
    assert asc["auc"]["mean"] == pytest.approx(0.73) and asc["auc"]["n"] == 5
    assert asc["gap"]["mean"] == pytest.approx(0.23)
    assert asc["gap"]["sd"] == pytest.approx(np.std([0.01, 0.02, 0.03, 0.04, 0.05], ddof=1))
    assert {k: asc["gap_test"][k] for k in ("test", "n", "statistic", "p")} == {
        "test": "sign-flip (exact)", "n": 5, "statistic": pytest.approx(1.15),
        "p": pytest.approx(2 / 32)}
    desc = rows[("layer0", "mutual_information", "descending")]
    assert desc["auc"]["mean"] == pytest.approx(0.5) and desc["auc"]["sd"] == pytest.approx(0)
    # Every gap is exactly 0: the sign-flip test gives p = 1.
    assert desc["gap"]["mean"] == pytest.approx(0, abs=1e-12)
    assert desc["gap_test"]["p"] == pytest.approx(1.0)
    rand = {x["scope"]: x for x in t.random_auc}["layer0"]
    assert rand["auc"]["mean"] == pytest.approx(0.5)
    assert rand["auc_pooled"]["n"] == 10 and rand["per_seed"][0]["repeats"] == 2
    ad = {(x["scope"], x["quantity"]): x for x in t.asc_desc}[("layer0", "mutual_information")]
    assert ad["difference"]["mean"] == pytest.approx(0.23)
    assert ad["test"]["p"] == pytest.approx(2 / 32) and ad["test"]["n"] == 5


def test_partial_auc_tables_by_hand(known):
    # Over [0, f] the mean of the linear ascending curve 0.9 - 0.4 x + s/100 is
    # 0.9 - 0.2 f + s/100, of the descending 0.9 - 0.8 x it is 0.9 - 0.4 f; random 0.5.
    with Results(known) as r:
        t = tables.compute(r)
    rows = {(x["scope"], x["quantity"], x["direction"]): x for x in t.auc}
    for scope in ("layer0", "network"):
        asc = rows[(scope, "mutual_information", "ascending")]
        desc = rows[(scope, "mutual_information", "descending")]
        rand = {x["scope"]: x for x in t.random_auc}[scope]
        ad = {(x["scope"], x["quantity"]): x for x in t.asc_desc}[(scope, "mutual_information")]
        assert sorted(asc["partial"]) == ["0.25", "0.5"]
        for f in (0.25, 0.5):
            pa, pd = asc["partial"][f"{f:g}"], desc["partial"][f"{f:g}"]
            assert pa["fraction"] == f
            assert [e["auc"] for e in pa["per_seed"]] == pytest.approx(
                [0.9 - 0.2 * f + s / 100 for s in range(1, 6)])
            assert pa["gap"]["mean"] == pytest.approx(0.43 - 0.2 * f)
            assert pa["gap_test"]["p"] == pytest.approx(2 / 32) and pa["gap_test"]["n"] == 5
            assert pd["auc"]["mean"] == pytest.approx(0.9 - 0.4 * f)
            assert pd["gap"]["mean"] == pytest.approx(0.4 - 0.4 * f)
            # Every descending gap is 0.4 - 0.4 f > 0: the smallest p of 5 seeds.
            assert pd["gap_test"]["p"] == pytest.approx(2 / 32)
            rp = rand["partial"][f"{f:g}"]
            assert rp["auc"]["mean"] == pytest.approx(0.5) and rp["auc_pooled"]["n"] == 10
            pad = ad["partial"][f"{f:g}"]
            assert pad["difference"]["mean"] == pytest.approx(0.03 + 0.2 * f)
            assert [e["difference"] for e in pad["per_seed"]] == pytest.approx(
                [0.2 * f + s / 100 for s in range(1, 6)])
            assert pad["test"]["p"] == pytest.approx(2 / 32)


def test_adjusted_p_values_over_the_report_and_per_table(known):
    # 2 scopes x 2 directions x 3 ranges = 12 gap tests + 2 x 3 asc - desc tests = 18:
    # 16 at p = 1/16 and the two full-range descending gaps (all zero) at p = 1.
    with Results(known) as r:
        t = tables.compute(r)
        tt = tables.compute(r, p_family="table")
    assert t.p_families == [{"family": "report", "tests": 18}]
    tests = [x for _, _, x in tables.report_tests(t)]
    assert len(tests) == 18 and all(x["family"] == "report" for x in tests)
    for x in tests:
        if x["p"] == pytest.approx(1.0):
            assert x["p_holm"] == 1.0 and x["p_bh"] == 1.0
        else:  # Holm: 18/16 > 1; BH: 18 * (1/16) / 16
            assert x["p_holm"] == 1.0 and x["p_bh"] == pytest.approx(18 / 16 / 16)
    cond = "synthetic-relu-4"
    assert sorted((f["family"], f["tests"]) for f in tt.p_families) == [
        (f"asc_desc/{cond}", 6), (f"auc/{cond}", 12)]
    for kind, _, x in tables.report_tests(tt):
        if kind == "asc_desc":   # 6 tests at 1/16: Holm 6/16, BH 1/16
            assert x["p_holm"] == pytest.approx(6 / 16) and x["p_bh"] == pytest.approx(1 / 16)
        elif x["p"] != pytest.approx(1.0):   # 10 at 1/16 among 12: Holm 12/16, BH 12/16/10
            assert x["p_holm"] == pytest.approx(12 / 16)
            assert x["p_bh"] == pytest.approx(12 / 16 / 10)
    with pytest.raises(ValueError):
        tables.adjust_p_values(t, "seed")


def test_partial_auc_on_curves_recorded_at_few_steps(tmp_path, version):
    # steps = 3 on layers of 8 and 6 neurons and a network scope of 14: the recorded points
    # rarely land on 25% or 50%, so the table interpolates; it must equal stats.partial_auc.
    path = tmp_path / "steps.h5"
    write_results(path, steps=3, version=version)
    with Results(path) as r:
        t = tables.compute(r)
        rows = {(x["condition"], x["scope"], x["quantity"], x["direction"]): x for x in t.auc}
        checked = 0
        for cond in r.conditions:
            for net in cond.networks:
                for scope in net.scopes():
                    for q, d in net.ordered_keys(scope):
                        c = net.ordered(scope, q, d)
                        rnd = net.random(scope)
                        row = rows[(cond.label, scope, q, d)]
                        for f in (0.25, 0.5):
                            part = row["partial"][f"{f:g}"]
                            e = {x["network"]: x for x in part["per_seed"]}[net.name]
                            a = stats.partial_auc(c.ablated, c.accuracy, c.n, f)
                            assert np.isfinite(a) and e["auc"] == pytest.approx(a)
                            ra = stats.partial_auc_rows(rnd.ablated, rnd.accuracy, rnd.n, f)
                            assert e["gap"] == pytest.approx(a - ra.mean())
                            checked += 1
        assert checked > 50


def test_spearman_table_matches_stats(tmp_path, version):
    path = tmp_path / "s.h5"
    written = write_results(path, version=version)
    with Results(path) as r:
        t = tables.compute(r)
    rows = {(x["condition"], x["quantity"], x["scope"]): x for x in t.spearman}
    assert {x["scope"] for x in t.spearman} == {"layer0", "layer1", "network"}
    row = rows[("synthetic-tanh-8x6", "entropy", "layer1")]
    expected = [stats.spearman(written[f"synthetic-tanh-8x6-s{s}"]["measures"][1]["entropy"],
                               written[f"synthetic-tanh-8x6-s{s}"]["drop"][1]) for s in (1, 2, 3)]
    assert [e["rho"] for e in row["per_seed"]] == pytest.approx(expected)
    assert row["rho"]["mean"] == pytest.approx(np.mean(expected)) and row["rho"]["n"] == 3
    pooled = rows[("synthetic-relu-8x6", "mutual_information", "network")]
    w = written["synthetic-relu-8x6-s2"]
    v = np.concatenate([w["measures"][k]["mutual_information"] for k in (0, 1)])
    d = np.concatenate([w["drop"][0], w["drop"][1]])
    assert pooled["per_seed"][1]["rho"] == pytest.approx(stats.spearman(v, d))
    # In the synthetic model importance follows mutual information.
    assert rows[("synthetic-relu-8x6", "mutual_information", "layer0")]["rho"]["mean"] > 0.8
    ad = {(x["condition"], x["scope"], x["quantity"]): x for x in t.asc_desc}
    assert ad[("synthetic-relu-8x6", "network", "mutual_information")]["difference"]["mean"] > 0


def test_one_seed_gives_na_tests(tmp_path, version):
    path = tmp_path / "one.h5"
    write_results(path, seeds=(3,), version=version)
    with Results(path) as r:
        t = tables.compute(r)
    assert t.auc and all(x["gap_test"]["test"] == "n/a" and x["gap_test"]["p"] is None
                         for x in t.auc)
    assert all(x["test"]["test"] == "n/a" for x in t.asc_desc)
    assert all(x["rho"]["n"] == 1 for x in t.spearman)


def test_absent_content_gives_notes_not_rows(tmp_path, version):
    path = tmp_path / "bare.h5"
    write_results(path, single=False, information_plane=False, repeats=0, version=version)
    with Results(path) as r:
        t = tables.compute(r)
    assert t.spearman == [] and t.random_auc == []
    assert all(np.isnan(x["gap"]["mean"]) and x["gap"]["n"] == 0 for x in t.auc)
    text = "\n".join(t.notes)
    assert "single-neuron damage (/single_neuron) absent" in text
    assert "information plane (/information_plane) absent" in text
    assert "no random curves" in text


def test_constant_quantity_and_nan_values(tmp_path, version):
    path = tmp_path / "odd.h5"
    write_results(path, conditions=(("mnist", "relu", (6, 5)),), seeds=(1, 2),
                  measure_names=("entropy", "selectivity_index"), repeats=2)
    with h5py.File(path, "r+") as f:
        for s in (1, 2):
            g = f[f"networks/mnist-relu-6x5-s{s}/measures/layers"]
            g["1/selectivity_index"][...] = 0.0          # e.g. a dead layer
            g["0/entropy"][2] = np.nan
    as_version(path, version)
    with Results(path) as r:
        t = tables.compute(r)
        net = r.networks[0]
        v, d = net.measure(0, "entropy"), net.accuracy_drop(0)
        keep = np.isfinite(v)
        expected = stats.spearman(v[keep], d[keep])
    rows = {(x["quantity"], x["scope"]): x for x in t.spearman}
    assert rows[("selectivity_index", "layer1")]["rho"]["n"] == 0
    assert np.isnan(rows[("selectivity_index", "layer1")]["rho"]["mean"])
    assert rows[("selectivity_index", "network")]["rho"]["n"] == 2
    assert rows[("entropy", "layer0")]["per_seed"][0]["rho"] == pytest.approx(expected)
