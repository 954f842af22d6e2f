"""The information plane over training (train.snapshots): `Network.training_plane()` on
files of both formats (None without snapshots; damaged layouts are errors naming the file),
its table and figure in the report, and the same on a file written by a real `ioca run`."""

import json
import math
import os
import shutil
import subprocess

import h5py
import numpy as np
import pytest
from ioca_results_factory import as_version, write_results

from ioca_analysis.cli import main
from ioca_analysis.results import Results, ResultsError
from ioca_analysis.tables import compute

MEASURES = ("entropy", "mutual_information")
QUANTITIES = ("binned_entropy", "binned_mutual_information", "kde_upper_xt", "kde_upper_ty")


@pytest.fixture(scope="module")
def planes(tmp_path_factory, version):
    path = tmp_path_factory.mktemp("plane") / "results.h5"
    written = write_results(path, measure_names=MEASURES, training_plane=True, version=version)
    return path, written


def test_training_plane_reads_what_was_written(planes):
    path, written = planes
    with Results(path) as r:
        for net in r.networks:
            p = net.training_plane()
            want = written[net.name]["training_plane"]
            assert net.has_training_plane
            np.testing.assert_array_equal(p.epochs, want["epochs"])
            assert p.layers == len(want["layers"]) == 2
            for k, values in enumerate(want["layers"]):
                for q in QUANTITIES:
                    np.testing.assert_array_equal(getattr(p, q)[k], values[q])
                assert p.saturated[k].dtype == bool
                np.testing.assert_array_equal(p.saturated[k], values["saturated"].astype(bool))
            assert (p.binning, p.bins, p.samples, p.split) == ("uniform", 30, 500, "validation")
            assert p.kde_noise_variance == 0.1
            # Shared by every measure setting: the view of the first one is the network.
            assert net.in_setting(net.settings[0]).training_plane() is p


def test_no_snapshots_gives_none_and_no_table_or_figure(tmp_path, version):
    path = tmp_path / "plain.h5"
    write_results(path, measure_names=MEASURES, version=version)
    with Results(path) as r:
        assert all(n.training_plane() is None and not n.has_training_plane for n in r.networks)
        t = compute(r)
        assert t.training_plane == []
        assert not any("over training" in n for n in t.notes)
    out = tmp_path / "report"
    assert main(["report", str(path), "-o", str(out), "--formats", "png"]) == 0
    assert not list(out.glob("training_plane_*.png"))
    assert "Information plane over training" not in (out / "index.html").read_text()


def test_table_summarises_over_seeds_and_counts_saturated(planes):
    path, written = planes
    with Results(path) as r:
        rows = compute(r).training_plane
    assert len(rows) == 2 * 2 * 4  # conditions x layers x epochs
    for row in rows:
        nets = [w for name, w in written.items() if name.startswith(row["condition"] + "-s")]
        assert len(nets) == 3
        i = list(nets[0]["training_plane"]["epochs"]).index(row["epoch"])
        for q in QUANTITIES:
            values = [w["training_plane"]["layers"][row["layer"]][q][i] for w in nets]
            assert row[q]["n"] == 3
            assert row[q]["mean"] == pytest.approx(np.mean(values), abs=1e-12)
            assert row[q]["sd"] == pytest.approx(np.std(values, ddof=1), abs=1e-12)
        assert row["saturated"] == sum(
            int(w["training_plane"]["layers"][row["layer"]]["saturated"][i]) for w in nets)
        assert row["samples"] == [500] and row["kde_noise_variance"] == [0.1]
    # The factory saturates layer 0 of the relu networks from epoch 2 on, nothing else.
    saturated = {(r["condition"], r["layer"], r["epoch"]) for r in rows if r["saturated"]}
    assert saturated == {("synthetic-relu-8x6", 0, e) for e in (2, 5)}


def test_report_draws_the_trajectories_and_lists_the_table(planes, tmp_path):
    path, _ = planes
    out = tmp_path / "report"
    assert main(["report", str(path), "-o", str(out), "--formats", "png"]) == 0
    png = out / "training_plane_synthetic-8x6.png"
    assert png.is_file() and png.stat().st_size > 10000
    html = (out / "index.html").read_text()
    assert 'href="#training_plane"' in html and "training_plane_synthetic-8x6.png" in html
    assert "Crosses mark saturated binned points" in html
    tables = json.loads((out / "tables.json").read_text())
    assert len(tables["training_plane"]) == 16
    assert any(f["kind"] == "training_plane" for f in tables["figures"])
    assert "Information plane over training" in (out / "summary.md").read_text()
    assert main(["summary", str(path)]) == 0


def test_damaged_training_plane_is_an_error_naming_the_file(tmp_path, version):
    path = tmp_path / "bad.h5"
    write_results(path, measure_names=MEASURES, training_plane=True, version=1)
    with h5py.File(path, "r+") as f:
        g = f["networks/synthetic-relu-8x6-s1/training/information_plane/layers/1"]
        del g["kde_upper_ty"]
        g.create_dataset("kde_upper_ty", data=np.zeros(3))  # 3 values for 4 epochs
    as_version(path, version)
    with Results(path) as r:
        with pytest.raises(ResultsError, match=r"bad\.h5.*kde_upper_ty.*3 values for 4 epochs"):
            r.network("synthetic-relu-8x6-s1").training_plane()
        assert r.network("synthetic-relu-8x6-s2").training_plane() is not None


STUDY = """name = pytest-plane
[data]
datasets = synthetic
synthetic_samples = 1500
synthetic_test_samples = 400
synthetic_features = 16
synthetic_classes = 4
validation_size = 400
[network]
hidden = 12x8
activations = relu, tanh
seeds = 1
[train]
epochs = 2
snapshots = 0, 1, 2
snapshot_samples = 300
snapshot_bins = 8
[ablation]
quantities = entropy
random = 0
single = false
"""


def test_a_real_study_with_snapshots(ioca_bin, tmp_path):
    (tmp_path / "study.ini").write_text(STUDY)
    out = tmp_path / "results.h5"
    env = dict(os.environ, OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    cmd = [str(ioca_bin), "run", "--config", str(tmp_path / "study.ini"), "--out", str(out),
           "--quiet"]
    if shutil.which("mpiexec"):
        cmd = ["mpiexec", "-q", "-n", "1"] + cmd
    subprocess.run(cmd, check=True, env=env, cwd=tmp_path, timeout=600)
    with Results(out) as r:
        assert len(r.networks) == 2
        for net in r.networks:
            p = net.training_plane()
            assert list(p.epochs) == [0, 1, 2] and p.layers == 2
            assert (p.samples, p.bins, p.binning, p.split) == (300, 8, "uniform", "validation")
            for k in range(2):
                assert np.all(p.kde_upper_xt[k] <= math.log2(300) + 1e-9)
                assert np.all(p.kde_upper_ty[k] <= p.kde_upper_xt[k] + 1e-12)
                assert np.all(p.binned_mutual_information[k] <= p.binned_entropy[k] + 1e-12)
                np.testing.assert_array_equal(p.saturated[k],
                                              p.binned_entropy[k] >= 0.99 * math.log2(300))
        rows = compute(r).training_plane
        assert len(rows) == 2 * 2 * 3
    report = tmp_path / "report"
    assert main(["report", str(out), "-o", str(report), "--formats", "png"]) == 0
    assert (report / "training_plane_synthetic-12x8.png").is_file()
