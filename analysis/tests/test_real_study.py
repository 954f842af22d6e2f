"""The analysis on a results file made by a real `ioca run` (a small study on synthetic
data, on 2 MPI ranks when mpiexec is there): the reader accepts it, the information plane
and the tables agree with the file's own numbers, and the report and summary work.

The file is read through `packed.network_groups`, so these tests hold whichever results
format (1 or 2) the installed ioca writes."""

import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

from ioca_analysis import packed, stats
from ioca_analysis.results import Results

STUDY = """name = pytest
[data]
datasets = synthetic
synthetic_samples = 2000
synthetic_test_samples = 600
synthetic_features = 24
synthetic_classes = 4
validation_size = 500
[network]
hidden = 16x12
activations = relu, tanh
seeds = 1, 2, 3
[train]
epochs = 2
[ablation]
quantities = entropy, mutual_information, kl_selectivity, single_damage
random = 3
"""


@pytest.fixture(scope="module")
def study_file(ioca_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("study")
    (d / "study.ini").write_text(STUDY)
    out = d / "results.h5"
    env = dict(os.environ, OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    cmd = [str(ioca_bin), "run", "--config", str(d / "study.ini"), "--out", str(out), "--quiet"]
    if shutil.which("mpiexec"):
        cmd = ["mpiexec", "-q", "-n", "2", "--oversubscribe", "--bind-to", "none"] + cmd
    subprocess.run(cmd, check=True, env=env, cwd=d, timeout=600)
    return out


def test_reader_sees_every_network(study_file):
    r = Results(study_file)
    with h5py.File(study_file, "r") as f:
        names = sorted(packed.network_groups(f))
        assert int(f.attrs["complete"]) == 1
    assert sorted(n.name for n in r.networks) == names
    assert len(names) == 6 and r.notes == []
    assert r.verify() == []  # format 2: every array matches its checksum (format 1: no-op)


def test_auc_matches_the_curves_in_the_file(study_file):
    with h5py.File(study_file, "r") as f:
        net = packed.network_groups(f)["synthetic-relu-16x12-s1"]
        g = net["ablation"]["layer0"]["entropy"]["ascending"]
        acc, ablated = g["accuracy"][()], g["ablated"][()]
        n = int(net["ablation"]["layer0"].attrs["neurons"])
    x = ablated / n
    expected = float(np.sum((acc[1:] + acc[:-1]) / 2 * np.diff(x)))
    assert stats.auc(ablated, acc, n) == pytest.approx(expected, abs=1e-12)


def test_information_plane_is_in_the_file_and_bounded(study_file):
    with h5py.File(study_file, "r") as f:
        for name, net in packed.network_groups(f).items():
            ip = net["information_plane"]
            h, i = ip["entropy"][()], ip["mutual_information"][()]
            samples = int(net.attrs["measure_samples"])
            assert np.all(i >= -1e-12) and np.all(i <= h + 1e-12)
            assert np.all(h <= np.log2(samples) + 1e-9) and np.all(i <= 2.0 + 1e-9)


def test_report_and_summary_on_a_real_file(study_file, tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg")
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = tmp_path / "report"
    subprocess.run([sys.executable, "-m", "ioca_analysis", "report", str(study_file), "-o", str(out),
                    "--formats", "png"],  # (SVGs: test_analysis_report, test_analysis_browser)
                   check=True, cwd=here, env=env, timeout=300)
    pngs = sorted(p.name for p in out.glob("*.png"))
    for kind in ("curves_", "distributions_", "per_class_", "scatter_", "information_plane"):
        assert any(p.startswith(kind) for p in pngs), kind
    html = (out / "index.html").read_text()
    assert all(p in html for p in pngs)
    tables = json.loads((out / "tables.json").read_text())
    assert tables
    # The report shows the commit and the config ioca recorded in the real file.
    assert tables["attributes"]["git_commit"] and tables["attributes"]["git_commit"] in html
    assert "hidden = 16x12" in html
    s = subprocess.run([sys.executable, "-m", "ioca_analysis", "summary", str(study_file)],
                       check=True, cwd=here, env=env, capture_output=True, text=True, timeout=300)
    assert "synthetic-relu-16x12" in s.stdout and "Spearman" in s.stdout


def test_the_same_study_in_format_2_gives_the_same_tables(study_file, tmp_path):
    """The real file rewritten as format 2 by the test factory: same tables, checksums."""
    import dataclasses
    from ioca_results_factory import convert_to_v2
    from ioca_analysis import tables
    from ioca_analysis.report import jsonable
    with h5py.File(study_file, "r") as f:
        if packed.is_packed(f):
            pytest.skip("ioca writes format 2 already: the tests above read it")
    v2 = tmp_path / "results-v2.h5"
    convert_to_v2(study_file, v2)
    with Results(study_file) as r1, Results(v2) as r2:
        assert r2.format_version == 2 and r2.verify() == []
        t1, t2 = jsonable(dataclasses.asdict(tables.compute(r1))), \
            jsonable(dataclasses.asdict(tables.compute(r2)))
        assert json.dumps(t1, sort_keys=True) == json.dumps(t2, sort_keys=True)
        for n1 in r1.networks:
            n2 = r2.network(n1.name)
            assert n1.attrs == n2.attrs and n1.scopes() == n2.scopes()
            c1, c2 = n1.random("network"), n2.random("network")
            np.testing.assert_array_equal(c1.accuracy, c2.accuracy)
