"""Pairwise ablation interaction: the reader, the table and its verdicts on planted effects,
the figure and the report section (present with pair_interaction, absent without)."""

import json

import h5py
import numpy as np
import pytest
from ioca_results_factory import add_pair_interaction, as_version, write_results

from ioca_analysis import stats, tables
from ioca_analysis.cli import main
from ioca_analysis.results import PAIR_GROUPS, Results, ResultsError

CONDITION = "synthetic-relu-6x5"
SEEDS = tuple(range(1, 9))  # 8 seeds: the exact sign-flip test reaches 2/256


def _file(tmp_path, version, effects, seeds=SEEDS, noise=0.002, name="pairs.h5", **kw):
    path = tmp_path / name
    write_results(path, conditions=(("synthetic", "relu", (6, 5)),), seeds=seeds,
                  quantities=("mutual_information",), repeats=2,
                  measure_names=("entropy", "mutual_information"))
    written = add_pair_interaction(path, effects, noise=noise, **kw)
    return as_version(path, version), written


def _row(t, layer):
    return next(r for r in t.interaction if r["layer"] == layer)


def test_reader_gives_the_arrays_written(tmp_path, version):
    path, written = _file(tmp_path, version, (0.0, 0.0, 0.0), seeds=(1, 2), layers=(1,))
    with Results(path) as r:
        for net in r.networks:
            assert net.has_pair_interaction and net.pair_interaction_layers() == [1]
            assert net.pair_interaction(0) is None
            got = net.pair_interaction(1)
            want = written[net.name][1]
            assert set(got) == set(want)
            for key, values in want.items():
                np.testing.assert_array_equal(got[key], values)
            assert got["group"].dtype == np.int64 and got["synergy"].dtype == float
    # Without the group: None and no layers.
    plain = tmp_path / "plain.h5"
    write_results(plain, seeds=(1,), version=version)
    with Results(plain) as r:
        assert not r.networks[0].has_pair_interaction
        assert r.networks[0].pair_interaction(0) is None


@pytest.mark.parametrize("damage, message", [
    (lambda g: g.__delitem__("accuracy_interaction"), "has no dataset accuracy_interaction"),
    (lambda g: (g.__delitem__("synergy"), g.create_dataset("synergy", data=np.zeros(3))),
     "differ in length"),
    (lambda g: g["group"].__setitem__(0, 3), "holds 3, not a group"),
    (lambda g: (g.__delitem__("first"), g.create_dataset("first", data=np.zeros((15, 2)))),
     "expected 1-D"),
])
def test_reader_names_a_malformed_group(tmp_path, damage, message):
    path, _ = _file(tmp_path, 1, (0.0, 0.0, 0.0), seeds=(1,))
    with h5py.File(path, "r+") as f:
        damage(f[f"networks/{CONDITION}-s1/pair_interaction/layers/0"])
    with Results(path) as r:
        with pytest.raises(ResultsError, match=message) as exc:
            r.networks[0].pair_interaction(0)
        assert str(path) in str(exc.value) and "pair_interaction/layers/0" in str(exc.value)


def test_table_by_hand_and_planted_yes(tmp_path, version):
    # Redundant pairs 1 pp less harmful together than random ones, synergistic 1 pp more.
    path, written = _file(tmp_path, version, (-0.01, 0.01, 0.0))
    with Results(path) as r:
        t = tables.compute(r)
    assert [(x["condition"], x["layer"]) for x in t.interaction] == [(CONDITION, 0),
                                                                      (CONDITION, 1)]
    for layer in (0, 1):
        row = _row(t, layer)
        diffs = {"redundant": [], "synergistic": []}
        for entry, seed in zip(row["per_seed"], SEEDS):
            arrays = written[f"{CONDITION}-s{seed}"][layer]
            assert entry["seed"] == seed and entry["pairs"] == {g: 5 for g in PAIR_GROUPS}
            means = {g: arrays["accuracy_interaction"][arrays["group"] == k].mean()
                     for k, g in enumerate(PAIR_GROUPS)}
            for g in PAIR_GROUPS:
                assert entry["accuracy_interaction"][g] == pytest.approx(means[g], abs=1e-15)
                assert entry["loss_interaction"][g] == pytest.approx(3 * means[g], abs=1e-15)
            for g in ("redundant", "synergistic"):
                diffs[g].append(means[g] - means["random"])
        for g in ("redundant", "synergistic"):
            mean, sd, n = stats.mean_sd(diffs[g])
            assert row[f"{g}_minus_random"]["mean"] == pytest.approx(mean, abs=1e-15)
            assert row[f"{g}_minus_random"]["sd"] == pytest.approx(sd, abs=1e-15)
            test = row[f"{g}_test"]
            assert test["test"] == "sign-flip (exact)" and test["n"] == 8
            assert test["p"] == pytest.approx(2 / 256)  # every seed has the planted sign
            assert test["p"] <= test["p_bh"] <= test["p_holm"]
        assert row["verdict_redundant"] == "yes"
        assert row["verdict_synergistic"] == "yes"
        assert row["accuracy_interaction"]["redundant"]["mean"] < 0 < \
            row["accuracy_interaction"]["synergistic"]["mean"]
    # The 4 interaction tests are part of the report's family.
    families = {f["family"]: f["tests"] for f in t.p_families}
    auc_tests = sum(1 for _ in tables.report_tests(t)) - 4
    assert families == {"report": auc_tests + 4}
    assert all(_row(t, k)[f"{g}_test"]["family"] == "report"
               for k in (0, 1) for g in ("redundant", "synergistic"))


def test_planted_no(tmp_path, version):
    # The other way round: redundant pairs more harmful together, synergistic ones less.
    path, _ = _file(tmp_path, version, (0.01, -0.01, 0.0))
    with Results(path) as r:
        t = tables.compute(r)
    for layer in (0, 1):
        row = _row(t, layer)
        assert row["redundant_minus_random"]["mean"] > 0
        assert row["verdict_redundant"] == "no" and row["verdict_synergistic"] == "no"


def test_undecided_without_evidence(tmp_path, version):
    # No effect, only noise: nothing significant. And 3 seeds cannot reach p < 0.05.
    path, _ = _file(tmp_path, version, (0.0, 0.0, 0.0), noise=0.01)
    few, _ = _file(tmp_path, version, (-0.01, 0.01, 0.0), seeds=(1, 2, 3), name="few.h5")
    for p in (path, few):
        with Results(p) as r:
            t = tables.compute(r)
        for row in t.interaction:
            assert row["verdict_redundant"] == "undecided"
            assert row["verdict_synergistic"] == "undecided"
    assert row["redundant_test"]["p"] == pytest.approx(0.25)  # 3 seeds: 2/2^3


def test_verdict_rule():
    assert tables.interaction_verdict(-0.5, 0.01, -1.0) == "yes"
    assert tables.interaction_verdict(0.5, 0.01, -1.0) == "no"
    assert tables.interaction_verdict(0.5, 0.01, 1.0) == "yes"
    assert tables.interaction_verdict(-0.5, 0.06, -1.0) == "undecided"
    assert tables.interaction_verdict(-0.5, 0.05, -1.0) == "yes"  # at the level
    assert tables.interaction_verdict(-0.5, None, -1.0) == "undecided"
    assert tables.interaction_verdict(float("nan"), 0.01, -1.0) == "undecided"
    assert tables.interaction_verdict(0.0, 0.01, -1.0) == "undecided"


def test_verdicts_use_the_bh_adjusted_p(tmp_path):
    # A per-table family holds only the 4 interaction tests: with every p at 2/256 BH
    # leaves them there, and the verdicts stand; the same p adjusted over a large family
    # of weaker tests could not.
    path, _ = _file(tmp_path, 1, (-0.01, 0.01, 0.0))
    with Results(path) as r:
        t = tables.compute(r, p_family="table")
    names = {f["family"] for f in t.p_families}
    assert f"interaction/{CONDITION}" in names
    for row in t.interaction:
        assert row["redundant_test"]["family"] == f"interaction/{CONDITION}"
        assert row["redundant_test"]["p_bh"] == pytest.approx(2 / 256)
        assert row["verdict_redundant"] == "yes"
    row = t.interaction[0]
    row["redundant_test"]["p_bh"] = 0.2
    tables.add_interaction_verdicts(t.interaction)
    assert row["verdict_redundant"] == "undecided"


def test_report_section_and_figure(tmp_path, version, capsys):
    path, _ = _file(tmp_path, version, (-0.01, 0.01, 0.0))
    out = tmp_path / "report"
    assert main(["report", str(path), "-o", str(out), "--formats", "png"]) == 0
    assert "pair" not in capsys.readouterr().err  # nothing skipped, nothing to note
    png = out / f"interaction_{CONDITION}.png"
    assert png.is_file() and png.stat().st_size > 5000
    page = (out / "index.html").read_text(encoding="utf-8")
    assert f'<img src="interaction_{CONDITION}.png"' in page
    assert '<h3 id="interaction">Redundancy, synergy and ablation interaction</h3>' in page
    assert f"Pair ablation interaction — {CONDITION}" in page
    assert "redundant less harmful together" in page
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert "## Redundancy, synergy and ablation interaction" in md
    assert ("| layer | n | pairs per group | redundant [pp] | synergistic [pp] | random [pp] "
            "| redundant − random [pp] | test | p | Holm | BH | synergistic − random [pp] "
            "| p | Holm | BH | redundant less harmful together "
            "| synergistic more harmful together |") in md
    section = md[md.index("## Redundancy, synergy and ablation interaction"):]
    line = next(x for x in section.splitlines() if x.startswith("| layer0 |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[1] == "8" and cells[2] == "5" and cells[-2:] == ["yes", "yes"]
    assert cells[3].startswith("-1.0") and cells[4].startswith("+1.0")  # planted ±1 pp
    assert "The pair-interaction tests" in md
    data = json.loads((out / "tables.json").read_text(encoding="utf-8"))
    assert [r["layer"] for r in data["interaction"]] == [0, 1]
    assert data["interaction"][0]["verdict_redundant"] == "yes"
    assert any(f["kind"] == "interaction" for f in data["figures"])
    assert main(["summary", str(path)]) == 0
    text = capsys.readouterr().out
    assert f"Pair ablation interaction — {CONDITION}" in text


def test_report_without_pairs_has_no_section(tmp_path, capsys):
    path = tmp_path / "plain.h5"
    write_results(path, seeds=(1, 2), quantities=("mutual_information",),
                  measure_names=("mutual_information",))
    out = tmp_path / "report"
    assert main(["report", str(path), "-o", str(out), "--formats", "png"]) == 0
    assert "pair" not in capsys.readouterr().err.lower()
    assert not list(out.glob("interaction_*.png"))
    page = (out / "index.html").read_text(encoding="utf-8")
    md = (out / "summary.md").read_text(encoding="utf-8")
    for text in (page, md):
        assert "Redundancy, synergy" not in text and "pair-interaction" not in text
    assert json.loads((out / "tables.json").read_text(encoding="utf-8"))["interaction"] == []
