"""The notebook API: `ioca_analysis.open` on a study, a single measures file and a single
ablation file; tidy pandas tables; plot_* functions that draw into an `ax`; bands over
seeds; the saturation warning; reports of single files."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ioca_results_factory import write_results, write_single

import ioca_analysis
from ioca_analysis import stats
from ioca_analysis.cli import main

ANALYSIS_DIR = Path(__file__).resolve().parents[1]
FEW = ("entropy", "mutual_information", "selectivity_index")


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """model.h5, measures.h5 and ablation.h5 of one relu 8x6 network (factory)."""
    folder = tmp_path_factory.mktemp("single")
    model, measures, ablation, info = write_single(folder, measure_names=FEW, repeats=3)
    return {"folder": folder, "model": model, "measures": measures, "ablation": ablation,
            "info": info}


def test_open_measures_file(single):
    with ioca_analysis.open(single["measures"]) as r:
        assert r.kind == "measures" and len(r.networks) == 1
        net = r.networks[0]
        # activation and seed come from the model file the measures file names
        assert (net.dataset, net.activation, net.hidden, net.seed) == ("synthetic", "relu",
                                                                       (8, 6), 1)
        assert r.conditions[0].label == "synthetic-relu-8x6"
        m = r.measures_df()
        assert len(m) == 14 and list(m["layer"]) == [0] * 8 + [1] * 6
        assert list(m["neuron"][:8]) == list(range(8))
        np.testing.assert_array_equal(m["entropy"][m["layer"] == 1],
                                      single["info"]["measures"][1]["entropy"])
        assert "accuracy_drop" not in m  # a measures file has no damage
        assert r.curves_df().empty and r.auc_df().empty


def test_open_ablation_file_pairs_its_measures(single):
    with ioca_analysis.open(single["ablation"]) as r:
        assert r.kind == "ablation"
        assert any("per-neuron measures read from" in n for n in r.notes)
        net = r.networks[0]
        assert net.scopes() == ["layer0", "layer1", "network"]
        assert net.test_accuracy == pytest.approx(0.91)
        c = r.curves_df()
        # 3 scopes x (3 quantities x 2 directions x (n+1) points + 3 random x (n+1))
        assert len(c) == sum(9 * (n + 1) for n in (8, 6, 14))
        one = c[(c.scope == "layer0") & (c.quantity == "entropy") & (c.direction == "descending")]
        want = single["info"]["curves"]["layer0"][("entropy", "descending")]["accuracy"]
        np.testing.assert_array_equal(one["accuracy"], want)
        np.testing.assert_allclose(one["fraction"], np.arange(9) / 8)
        rnd = c[(c.scope == "network") & (c.direction == "random")]
        assert sorted(set(rnd["repeat"])) == [0, 1, 2] and set(rnd["quantity"]) == {"random"}
        m = r.measures_df()
        np.testing.assert_array_equal(m["accuracy_drop"][m["layer"] == 0],
                                      single["info"]["drop"][0])
        a = r.auc_df()
        row = a[(a.scope == "layer0") & (a.quantity == "entropy") & (a.direction == "ascending")]
        assert len(row) == 1
        assert row["auc"].iloc[0] == pytest.approx(stats.auc(np.arange(9), np.asarray(
            single["info"]["curves"]["layer0"][("entropy", "ascending")]["accuracy"]), 8))
        rand = a[(a.scope == "layer0") & (a.direction == "random")]["auc"].iloc[0]
        assert row["gap"].iloc[0] == pytest.approx(row["auc"].iloc[0] - rand)
        s = r.summary_df()
        assert set(s["direction"]) == {"ascending", "descending", "random"}
        assert (s["n"] == 1).all() and s["p"].isna().all()  # one seed: no test
        rho = r.spearman_df()
        assert set(rho["scope"]) == {"layer0", "layer1", "network"}


def test_ablation_file_alone_and_with_foreign_measures(single, tmp_path):
    lone = tmp_path / "lone.h5"
    shutil.copy(single["ablation"], lone)
    import h5py
    with h5py.File(lone, "a") as f:
        f.attrs["measures"] = "gone/measures.h5"
        f.attrs["model"] = "gone/model.h5"
    with ioca_analysis.open(lone) as r:
        net = r.networks[0]
        assert not net.has_measures and net.activation == "unknown"
        assert any("was not found" in n for n in r.notes)
        assert r.measures_df().columns.tolist()[-2:] == ["accuracy_drop", "loss_increase"]
    other = tmp_path / "other.h5"
    shutil.copy(single["measures"], other)
    with h5py.File(other, "a") as f:
        f.attrs["model_fingerprint"] = "ffffffffffffffff"
    with pytest.raises(ioca_analysis.ResultsError, match="measures of model ffffffffffffffff"):
        ioca_analysis.open(lone, measures=other)
    with pytest.raises(ioca_analysis.ResultsError, match="goes with an ablation file"):
        ioca_analysis.open(single["measures"], measures=other)


def test_study_tables_are_tidy(tmp_path):
    path = tmp_path / "study.h5"
    written = write_results(path, seeds=(1, 2), quantities=("entropy",), measure_names=FEW)
    with ioca_analysis.open(path) as r:
        assert r.kind == "study"
        nets = r.networks_df()
        assert list(nets["seed"]) == [1, 2, 1, 2]
        assert list(nets["condition"]) == ["synthetic-relu-8x6"] * 2 + ["synthetic-tanh-8x6"] * 2
        c = r.curves_df(scope="network", quantity="entropy")
        assert len(c) == 4 * 2 * 15 and set(c["direction"]) == {"ascending", "descending"}
        name = "synthetic-tanh-8x6-s2"
        got = c[(c.network == name) & (c.direction == "ascending")]["accuracy"]
        np.testing.assert_array_equal(got, written[name]["curves"]["network"][
            ("entropy", "ascending")]["accuracy"])
        s = r.summary_df()
        row = s[(s.condition == "synthetic-relu-8x6") & (s.scope == "network")
                & (s.direction == "descending")].iloc[0]
        a = r.auc_df()
        gaps = a[(a.condition == "synthetic-relu-8x6") & (a.scope == "network")
                 & (a.direction == "descending")]["gap"]
        assert row["gap_mean"] == pytest.approx(gaps.mean())
        assert row["gap_sd"] == pytest.approx(gaps.std(ddof=1))
        assert row["n"] == 2 and row["p"] == pytest.approx(0.5) and row["p_bh"] >= row["p"]


def test_seed_bands():
    curves = np.array([[1.0, 0.8], [0.9, 0.5], [0.7, 0.6], [0.6, 0.4]])
    mean, lo, hi, band = stats.seed_band(curves, "minmax")
    np.testing.assert_allclose(mean, [0.8, 0.575])
    np.testing.assert_allclose(lo, [0.6, 0.4]) and np.testing.assert_allclose(hi, [1.0, 0.8])
    _, lo, hi, _ = stats.seed_band(curves, "iqr")
    np.testing.assert_allclose(lo, [0.675, 0.475]) and np.testing.assert_allclose(hi,
                                                                                  [0.925, 0.65])
    _, lo, hi, _ = stats.seed_band(curves, "ci")
    half = stats.t_quantile(4) * curves.std(axis=0, ddof=1) / 2
    np.testing.assert_allclose(hi - mean, half)
    assert stats.seed_band(curves, "auto")[3] == "minmax"       # 4 seeds
    assert stats.seed_band(np.vstack([curves] * 2), "auto")[3] == "ci"  # 8 seeds
    _, lo, hi, _ = stats.seed_band(curves[:1], "ci")             # one seed: no band
    np.testing.assert_array_equal(lo, hi)
    with pytest.raises(ValueError, match="band 'sd'"):
        stats.seed_band(curves, "sd")


def test_plot_functions_draw_into_ax_and_write_nothing(single, tmp_path, monkeypatch):
    import matplotlib
    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    from ioca_analysis import figures
    monkeypatch.chdir(tmp_path)
    with ioca_analysis.open(single["ablation"]) as r:
        fig, axes = plt.subplots(2, 3)
        axes = axes.ravel()
        net = r.networks[0]
        assert figures.plot_curves(r, "layer0", "entropy", band="minmax", ax=axes[0]) is fig
        assert figures.plot_key_curves(r, ax=axes[1]) is fig
        assert figures.plot_distribution(r, "mutual_information", ax=axes[2]) is fig
        assert figures.plot_damage_scatter(r, 1, "entropy", ax=axes[3]) is fig
        assert figures.plot_per_class(net, "network", "entropy", "descending", ax=axes[4]) is fig
        assert len(axes[0].lines) >= 2 and axes[3].collections  # something was drawn
        own = figures.plot_curves(r, "network", "mutual_information")  # no ax: a new figure
        assert own is not fig and own.axes[0].get_xlabel().startswith("neurons ablated")
        plt.close("all")
    assert list(tmp_path.iterdir()) == []  # no file written


def test_importing_never_switches_the_backend():
    code = ("import matplotlib; matplotlib.use('pdf'); "
            "import ioca_analysis.figures, ioca_analysis.report, ioca_analysis.cli; "
            "print(matplotlib.get_backend())")
    run = subprocess.run([sys.executable, "-c", code], cwd=ANALYSIS_DIR, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "pdf"


def test_report_of_single_files(single, tmp_path):
    out = tmp_path / "abl"
    assert main(["report", str(single["ablation"]), "-o", str(out), "--formats", "svg"]) == 0
    data = json.loads((out / "tables.json").read_text(encoding="utf-8"))
    assert data["kind"] == "ablation"
    kinds = {f["kind"] for f in data["figures"]}
    assert {"summary", "curves", "per_class", "distributions", "scatter"} <= kinds
    for f in data["figures"]:
        assert f["files"] == [f["file"], f["file"][:-4] + ".svg"]
        assert all((out / x).is_file() for x in f["files"])
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "ablation file (ioca ablate --out)" in page and "1" * 40 in page
    out = tmp_path / "mea"
    assert main(["report", str(single["measures"]), "-o", str(out), "--formats", "png"]) == 0
    data = json.loads((out / "tables.json").read_text(encoding="utf-8"))
    assert [f["file"] for f in data["figures"]] == ["distributions_synthetic-relu-8x6.png"]
    assert not list(out.glob("*.svg"))
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "Per-neuron measures — measures" in page and "selectivity_index" in page


def test_saturation_warning_and_band_choice(tmp_path):
    from ioca_analysis import figures, report, tables
    path = tmp_path / "sat.h5"
    write_results(path, conditions=(("synthetic", "relu", (5, 4)),), seeds=(1, 2),
                  quantities=("entropy",), measure_names=("entropy",), scopes=["network"],
                  repeats=2, measure_samples=64)
    out = tmp_path / "rep"
    assert main(["report", str(path), "-o", str(out), "--formats", "png"]) == 0
    data = json.loads((out / "tables.json").read_text(encoding="utf-8"))
    # layer 0 (H(T) 6.0-6.1 bits >= 0.99 log2 64) of both seeds, not layer 1
    assert len(data["warnings"]) == 1
    assert "saturated in 2 of 4 layers" in data["warnings"][0]
    page = (out / "index.html").read_text(encoding="utf-8")
    assert 'class="warning"' in page and page.index('class="warning"') < page.index("<img")
    curves = [f for f in data["figures"] if f["kind"] == "curves"][0]
    assert "range over seeds (min to max)" in curves["caption"]  # auto, 2 seeds: min-max
    with ioca_analysis.open(path) as r:
        assert r.networks[0].information_plane_saturated().tolist() == [True, False]
        fig = figures.ablation_curves(r.conditions[0], "network", band="ci")
        assert "95% t confidence interval" in fig.caption
    write_results(path, conditions=(("synthetic", "relu", (5, 4)),), seeds=(1, 2),
                  quantities=("entropy",), measure_names=("entropy",), scopes=["network"],
                  repeats=2, measure_samples=4096)
    with ioca_analysis.open(path) as r:
        assert report.saturation_warnings(r, tables.compute(r)) == []


def test_real_train_measure_ablate_files(ioca_bin, tmp_path):
    """Files written by a real ioca (tiny synthetic network): the reader takes what they
    record (data set, activation and seed via the model file, intact accuracy, git commit),
    and its tables agree with the files' own arrays."""
    import h5py
    syn = ["--dataset", "synthetic", "--synthetic-samples", "1200",
           "--synthetic-test-samples", "300", "--synthetic-features", "12",
           "--synthetic-classes", "3", "--validation-size", "300"]
    model, meas, abl = tmp_path / "m.h5", tmp_path / "meas.h5", tmp_path / "abl.h5"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for cmd in (["train", *syn, "--hidden", "6,4", "--activation", "tanh", "--epochs", "1",
                 "--seed", "7", "--out", model, "--quiet"],
                ["measure", "--model", model, "--out", meas],
                ["ablate", "--model", model, "--measures", meas, "--by", "mutual_information",
                 "--random", "2", "--out", abl]):
        subprocess.run([str(ioca_bin)] + [str(c) for c in cmd], check=True, env=env,
                       cwd=tmp_path, capture_output=True, timeout=120)
    with ioca_analysis.open(meas) as r:
        net = r.networks[0]
        assert r.kind == "measures" and r.conditions[0].label == "synthetic-tanh-6x4"
        assert net.seed == 7 and r.attrs["git_commit"] not in ("", None)
    with ioca_analysis.open(abl) as r, h5py.File(abl, "r") as f:
        net = r.networks[0]
        assert r.kind == "ablation" and net.has_measures and net.seed == 7
        assert net.test_accuracy == f.attrs["intact_accuracy"]
        c = r.curves_df(scope="layer1", quantity="mutual_information")
        np.testing.assert_array_equal(
            c[c.direction == "descending"]["accuracy"],
            f["ablation/layer1/mutual_information/descending/accuracy"][()])
        m = r.measures_df()
        assert len(m) == 10 and not m["accuracy_drop"].isna().any()
    out = tmp_path / "report"
    assert main(["report", str(abl), "-o", str(out), "--formats", "png"]) == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "synthetic-tanh-6x4" in page and 'src="summary_curves.png"' in page
