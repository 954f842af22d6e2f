"""The command line: `report` writes every figure and page, `summary` prints, bad input -> 2."""

import json
import re
import subprocess
import sys
from pathlib import Path

import h5py
import pytest
from ioca_results_factory import write_results

from ioca_analysis.cli import main

ANALYSIS_DIR = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CONDITIONS = ("synthetic-relu-8x6", "synthetic-tanh-8x6")
# Fewer stored measures than a real file: fewer panels, faster tests.
MEASURES = ("entropy", "mutual_information", "kl_selectivity", "selectivity_index")
FEW = ("mutual_information",)


def expected_pngs(conditions=CONDITIONS, scopes=("layer0", "layer1", "network"), layers=(0, 1),
                  per_class=True, distributions=True, scatter=True, plane=True):
    names = {"summary_curves.png"} if scopes else set()
    for c in conditions:
        names |= {f"curves_{c}_{s}.png" for s in scopes}
        if per_class:
            names.add(f"per_class_{c}.png")
        if distributions:
            names.add(f"distributions_{c}.png")
        if scatter:
            names |= {f"scatter_{c}_layer{k}.png" for k in layers}
    if plane:
        names.add("information_plane.png")
    return names


@pytest.fixture(scope="module")
def full_report(tmp_path_factory, version):
    folder = tmp_path_factory.mktemp("report")
    results = folder / "results.h5"
    write_results(results, measure_names=MEASURES, version=version)
    out = folder / "report"
    # SVGs (the default beside PNG) for format 1; PNG only for format 2 (less CI time).
    code = main(["report", str(results), "-o", str(out)]
                + ([] if version == 1 else ["--formats", "png"]))
    return code, results, out, version


def test_report_writes_every_figure_and_page(full_report):
    code, _, out, version = full_report
    assert code == 0
    pngs = {p.name for p in out.glob("*.png")}
    assert pngs == expected_pngs()
    for p in out.glob("*.png"):
        assert p.read_bytes()[:8] == PNG_MAGIC and p.stat().st_size > 5000
        if version == 1:
            svg = p.with_suffix(".svg").read_text(encoding="utf-8")  # SVG beside every PNG
            assert "<svg" in svg and svg.rstrip().endswith("</svg>")
    assert len(list(out.glob("*.svg"))) == (len(list(out.glob("*.png"))) if version == 1 else 0)
    for name in ("index.html", "summary.md", "tables.json"):
        assert (out / name).is_file()


def test_index_html_references_every_png_and_holds_the_tables(full_report):
    _, _, out, _ = full_report
    page = (out / "index.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    referenced = set(re.findall(r'<img src="([^"]+)"', page))
    assert referenced == expected_pngs()
    assert page.count("<figcaption>") == len(referenced)
    # Tables: overview, 2 x Spearman, 2 x AUC, 2 x ascending-descending, root attributes;
    # and the at-a-glance table of the summary.
    assert page.count("<table>") == 8 and page.count('<table class="glance">') == 1
    # A person looks first: the summary figure comes before any table, the tables after
    # every figure; the config and commit are shown.
    assert page.index('src="summary_curves.png"') < page.index("<table")
    assert page.rindex("<figure") < page.index('id="conditions"')
    assert "0" * 40 in page and "datasets = synthetic" in page
    assert 'href="summary_curves.png"' in page
    for text in ("Spearman", "Area under the ablation curves", "gap to random",
                 "sign-flip (exact)", "AUC asc − desc", "mutual_information",
                 "synthetic-tanh-8x6"):
        assert text in page
    assert "http://" not in page and "https://" not in page  # self-contained


def test_summary_md_and_tables_json(full_report):
    _, results, out, version = full_report
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert "| quantity | layer0 | layer1 | network |" in md
    assert "| scope | quantity | direction | n | AUC | gap to random | test | p |" in md
    data = json.loads((out / "tables.json").read_text(encoding="utf-8"),
                      parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert data["results_format"] == version and data["file"] == str(results)
    assert [c["condition"] for c in data["conditions"]] == list(CONDITIONS)
    assert data["conditions"][0]["seeds"] == [1, 2, 3]
    # 2 conditions x 3 scopes x 3 quantities x 2 directions
    assert len(data["auc"]) == 36 and len(data["random_auc"]) == 6
    assert len(data["asc_desc"]) == 18
    assert len(data["spearman"]) == 2 * len(MEASURES) * 3
    row = data["auc"][0]
    assert 0.0 <= row["auc"]["mean"] <= 1.0 and row["gap_test"]["n"] == 3
    assert row["gap_test"]["test"] == "sign-flip (exact)"
    assert {f["file"] for f in data["figures"]} == expected_pngs()
    # Adjusted p-values over one report-wide family: (36 gap + 18 asc - desc tests) x 3
    # ranges (full, first 50%, first 25%), all with 3 seeds.
    assert data["options"]["p_family"] == "report"
    assert data["p_families"] == [{"family": "report", "tests": 162}]
    tests = [r["gap_test"] for r in data["auc"]] + [r["test"] for r in data["asc_desc"]]
    tests += [p["gap_test"] for r in data["auc"] for p in r["partial"].values()]
    tests += [p["test"] for r in data["asc_desc"] for p in r["partial"].values()]
    assert len(tests) == 162
    for x in tests:
        assert x["family"] == "report" and x["p"] <= x["p_bh"] <= x["p_holm"] <= 1.0
    assert sorted(data["auc"][0]["partial"]) == ["0.25", "0.5"]
    assert sorted(data["random_auc"][0]["partial"]) == ["0.25", "0.5"]
    header = ("| scope | quantity | direction | n | AUC | gap to random | test | p | Holm | BH "
              "| AUC 0–50% | gap 0–50% | p 0–50% | Holm 0–50% | BH 0–50% | AUC 0–25% "
              "| gap 0–25% | p 0–25% | Holm 0–25% | BH 0–25% |")
    assert header in md
    assert ("| scope | quantity | n | AUC asc − desc | test | p | Holm | BH | asc − desc 0–50% "
            "| p 0–50% | Holm 0–50% | BH 0–50% | asc − desc 0–25% | p 0–25% | Holm 0–25% "
            "| BH 0–25% |") in md
    assert "Family: all 162 tests with a p-value in this report" in md


def test_summary_p_family_per_table(tmp_path, capsys):
    results = tmp_path / "r.h5"
    write_results(results, quantities=FEW, measure_names=MEASURES)
    assert main(["summary", str(results), "--p-family", "table"]) == 0
    out = capsys.readouterr().out
    # Per condition: 3 scopes x 2 directions x 3 ranges gap tests, 3 x 3 asc - desc tests.
    assert "(54 tests in 4 families; --p-family table)" in out
    auc_header = next(line for line in out.splitlines() if line.startswith("scope    quantity"))
    for column in ("Holm", "BH", "AUC 0–25%", "gap 0–50%", "p 0–25%", "Holm 0–25%"):
        assert column in auc_header
    with pytest.raises(SystemExit) as exc:
        main(["summary", str(results), "--p-family", "seed"])
    assert exc.value.code == 2


def test_summary_prints_tables(tmp_path, capsys, version):
    results = tmp_path / "r.h5"
    write_results(results, string_style="fixed", version=version)
    assert main(["summary", str(results)]) == 0
    out = capsys.readouterr().out
    for text in ("Conditions", "Spearman ρ with single-neuron damage — synthetic-relu-8x6",
                 "Area under the ablation curves — synthetic-tanh-8x6",
                 "Ascending − descending AUC", "sign-flip (exact)", "0.25"):
        assert text in out


def test_report_without_optional_groups(tmp_path, capsys, version):
    results = tmp_path / "bare.h5"
    write_results(results, conditions=(("mnist", "sigmoid", (5, 4, 3)),), seeds=(1, 2),
                  quantities=("kl_selectivity",), single=False, information_plane=False,
                  repeats=0, steps=3, string_style="fixed", measure_names=FEW,
                  version=version)
    out = tmp_path / "rep"
    assert main(["report", str(results), "-o", str(out), "--formats", "png"]) == 0
    err = capsys.readouterr().err
    assert "single-neuron damage (/single_neuron) absent" in err
    assert "no /information_plane" in err or "information plane" in err
    pngs = {p.name for p in out.glob("*.png")}
    assert pngs == expected_pngs(("mnist-sigmoid-5x4x3",), ("layer0", "layer1", "layer2",
                                                            "network"), scatter=False, plane=False)
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "Notes" in page and "no random curves" in page
    data = json.loads((out / "tables.json").read_text(encoding="utf-8"))
    assert data["spearman"] == [] and data["random_auc"] == []
    # The per-class default (network/mutual_information/descending) is absent: fallback.
    caption = [f for f in data["figures"] if f["kind"] == "per_class"][0]["caption"]
    assert "absent" in caption


def test_report_one_seed_one_scope_only_network(tmp_path, version):
    results = tmp_path / "one.h5"
    write_results(results, conditions=(("synthetic", "relu", (6,)),), seeds=(9,),
                  quantities=("mutual_information",), directions=("descending",),
                  scopes=["network"], repeats=3, measure_names=FEW, version=version)
    out = tmp_path / "rep"
    assert main(["report", str(results), "-o", str(out), "--formats", "png"]) == 0
    assert {p.name for p in out.glob("*.png")} == expected_pngs(
        ("synthetic-relu-6",), ("network",), layers=(0,))
    data = json.loads((out / "tables.json").read_text(encoding="utf-8"))
    assert data["auc"][0]["gap_test"]["test"] == "n/a" and data["asc_desc"] == []
    assert "n/a" in (out / "summary.md").read_text(encoding="utf-8")


def test_per_class_option(tmp_path, version):
    results = tmp_path / "r.h5"
    write_results(results, conditions=(("synthetic", "relu", (5, 4)),), seeds=(1, 2),
                  quantities=("entropy",), repeats=2, measure_names=FEW,
                  version=version)
    out = tmp_path / "rep"
    assert main(["report", str(results), "-o", str(out), "--formats", "png", "--per-class", "layer1/entropy/ascending",
                 "--per-class-seed", "2"]) == 0
    data = json.loads((out / "tables.json").read_text(encoding="utf-8"))
    fig = [f for f in data["figures"] if f["kind"] == "per_class"][0]
    assert "seed 2" in fig["title"] and "layer1" in fig["title"]
    assert "entropy ascending" in fig["title"]
    assert "Requested" not in fig["caption"]


def _one_line_error(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err
    return err


def test_bad_input_exits_2_with_one_line(tmp_path, capsys):
    err = _one_line_error(capsys, ["summary", str(tmp_path / "nope.h5")])
    assert "nope.h5: no such file" in err
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all")
    assert "junk.h5: not an HDF5 file" in _one_line_error(capsys, ["report", str(junk),
                                                                   "-o", str(tmp_path / "o")])
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f.create_group("networks")
    assert "plain.h5: not an ioca results, measures or ablation file" in _one_line_error(capsys, ["summary", str(plain)])
    assert not (tmp_path / "o").exists()
    with pytest.raises(SystemExit) as exc:
        main(["report", str(plain), "--per-class", "network/entropy"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_module_entry_point_exit_status(tmp_path):
    run = subprocess.run([sys.executable, "-m", "ioca_analysis", "summary",
                          str(tmp_path / "missing.h5")], cwd=ANALYSIS_DIR,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.strip().splitlines() == [
        f"ioca_analysis: error: {tmp_path / 'missing.h5'}: no such file"]
