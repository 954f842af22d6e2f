"""ioca_analysis.results: reading a synthetic results file laid out as docs/study.md says."""

import h5py
import numpy as np
import pytest
from ioca_results_factory import as_version, write_results

from ioca_analysis.results import Results, ResultsError, decode, parse_hidden, scope_sort_key


@pytest.fixture(scope="module")
def study(tmp_path_factory, version):
    path = tmp_path_factory.mktemp("reader") / "results.h5"
    written = write_results(path, version=version)
    return path, written


@pytest.mark.parametrize("style", ["vlen", "fixed"])
def test_reader_networks_and_conditions(tmp_path, style, version):
    path = tmp_path / "r.h5"
    write_results(path, string_style=style, version=version)
    with Results(path) as r:
        assert r.format_version == version and r.complete == 1 and r.study_name == "synthetic"
        assert len(r.networks) == 6 and r.notes == []
        assert [c.label for c in r.conditions] == ["synthetic-relu-8x6", "synthetic-tanh-8x6"]
        for c in r.conditions:
            assert c.seeds == [1, 2, 3] and c.classes == 3 and c.hidden == (8, 6)
        net = r.networks[0]
        assert net.name == "synthetic-relu-8x6-s1" and net.index == 0
        assert net.dataset == "synthetic" and net.activation == "relu" and net.seed == 1
        assert isinstance(net.attrs["source"], str) and net.attrs["source"] == "trained"
        assert net.test_accuracy == pytest.approx(0.91)


def test_reader_arrays_match_what_was_written(study):
    path, written = study
    with Results(path) as r:
        for net in r.networks:
            w = written[net.name]
            assert net.measure_layers() == [0, 1]
            names = net.measure_names(0)
            assert names[:4] == ["entropy", "mutual_information", "kl_selectivity",
                                 "selectivity_index"]
            assert "kl_selectivity_class" not in names and "bins_used" not in names
            for k in (0, 1):
                np.testing.assert_array_equal(net.measure(k, "mutual_information"),
                                              w["measures"][k]["mutual_information"])
                np.testing.assert_array_equal(net.accuracy_drop(k), w["drop"][k])
            assert net.measure(0, "no_such_quantity") is None
            assert net.scopes() == ["layer0", "layer1", "network"]
            assert net.scope_size("network") == 14 and net.scope_size("layer1") == 6
            assert net.ordered_keys("layer0")[:2] == [("entropy", "ascending"),
                                                      ("entropy", "descending")]
            c = net.ordered("network", "mutual_information", "descending")
            ref = w["curves"]["network"][("mutual_information", "descending")]
            np.testing.assert_array_equal(c.accuracy, ref["accuracy"])
            np.testing.assert_array_equal(c.ablated, np.arange(15))
            assert c.n == 14 and c.fraction[-1] == 1.0
            assert c.tied == ref["tied"] and isinstance(c.tied, int)
            rnd = net.random("layer0")
            assert rnd.accuracy.shape == (4, 9) and rnd.tied is None
            np.testing.assert_array_equal(rnd.accuracy, w["random"]["layer0"]["accuracy"])
            pc = net.per_class("layer1", "entropy", "ascending")
            assert pc.shape == (7, 3)
            h, mi = net.information_plane()
            np.testing.assert_array_equal(h, w["information_plane"][0])
            assert mi.shape == (2,)
            assert net.ordered("layer0", "kl_selectivity", "ascending") is None


def test_reader_missing_optional_groups(tmp_path, version):
    path = tmp_path / "bare.h5"
    write_results(path, seeds=(4,), single=False, information_plane=False, repeats=0,
                  measures=False, scopes=["network"], steps=3, version=version)
    with Results(path) as r:
        net = r.networks[0]
        assert not net.has_single_neuron and net.accuracy_drop(0) is None
        assert not net.has_information_plane and net.information_plane() is None
        assert not net.has_measures and net.measure_layers() == []
        assert net.random("network") is None
        assert net.scopes() == ["network"]
        c = net.ordered("network", "entropy", "ascending")
        np.testing.assert_array_equal(c.ablated, [0, 5, 9, 14])


def test_tied_is_none_in_files_without_it(tmp_path):
    path = tmp_path / "old.h5"
    write_results(path, seeds=(1,), version=1)
    with h5py.File(path, "r+") as f:
        for g in f["networks"].values():
            del g["ablation/layer0/entropy/ascending"].attrs["tied"]
    with Results(path) as r:
        net = r.networks[0]
        assert net.ordered("layer0", "entropy", "ascending").tied is None
        assert net.ordered("layer0", "entropy", "descending").tied is not None


def test_checkpoint_and_count_mismatch_are_noted(tmp_path, version):
    path = tmp_path / "ckpt.h5"
    write_results(path, complete=0, version=version)
    with h5py.File(path, "r+") as f:
        f.attrs["networks"] = np.int64(9)
    with Results(path) as r:
        assert r.complete == 0
        assert any("checkpoint" in n for n in r.notes)
        assert any("networks = 9" in n for n in r.notes)


def test_checkpoint_segment_is_noted(tmp_path, version):
    path = tmp_path / "out.h5.checkpoint.3"
    write_results(path, complete=0, version=version)
    with h5py.File(path, "r+") as f:
        f.attrs["checkpoint_id"] = "0123456789abcdef"
        f.attrs["checkpoint_segment"] = np.int64(3)
    with Results(path) as r:
        assert any("segment 3 of a checkpoint" in n for n in r.notes)


def test_bad_inputs_raise_clear_errors(tmp_path):
    with pytest.raises(ResultsError, match="missing.h5: no such file"):
        Results(tmp_path / "missing.h5")
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    with pytest.raises(ResultsError, match="notes.txt: not an HDF5 file"):
        Results(text)
    with pytest.raises(ResultsError, match="is a directory"):
        Results(tmp_path)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.attrs["something"] = 1
    with pytest.raises(ResultsError, match=r"other.h5: not an ioca results, measures or "
                                           r"ablation file: no root attribute "
                                           r"ioca_results_format, ioca_measures_format or "
                                           r"ioca_ablation_format$"):
        Results(other)
    model = tmp_path / "model.h5"
    with h5py.File(model, "w") as f:
        f.attrs["ioca_model_format"] = 1
    with pytest.raises(ResultsError, match="an ioca model file; measure and ablate it first"):
        Results(model)
    # Single measures and ablation files are read (test_analysis_single.py), but one
    # without their groups is an error.
    ablation = tmp_path / "ablation.h5"
    with h5py.File(ablation, "w") as f:
        f.attrs["ioca_ablation_format"] = 1
    with pytest.raises(ResultsError, match="ablation.h5: an ioca ablation file without "
                                           "/ablation or /single_neuron"):
        Results(ablation)
    measures = tmp_path / "measures.h5"
    with h5py.File(measures, "w") as f:
        f.attrs["ioca_measures_format"] = 1
    with pytest.raises(ResultsError, match="measures.h5: an ioca measures file without /layers"):
        Results(measures)
    nonets = tmp_path / "nonets.h5"
    with h5py.File(nonets, "w") as f:
        f.attrs["ioca_results_format"] = 1
    with pytest.raises(ResultsError, match="nonets.h5: no /networks group"):
        Results(nonets)
    with h5py.File(nonets, "a") as f:
        f.create_group("networks")
    with pytest.raises(ResultsError, match="holds no network"):
        Results(nonets)
    bad_version = tmp_path / "v.h5"
    with h5py.File(bad_version, "w") as f:
        f.attrs["ioca_results_format"] = "one"
    with pytest.raises(ResultsError, match="not a format version"):
        Results(bad_version)


def test_malformed_curve_names_the_file_and_path(tmp_path, version):
    path = tmp_path / "bad.h5"
    write_results(path, seeds=(1,), conditions=(("synthetic", "relu", (4,)),))
    with h5py.File(path, "r+") as f:
        g = f["networks/synthetic-relu-4-s1/ablation/layer0/entropy/ascending"]
        del g["ablated"]
        g["ablated"] = np.arange(3)
    as_version(path, version)
    with Results(path) as r:
        with pytest.raises(ResultsError, match=r"bad.h5: /networks/synthetic-relu-4-s1/"
                                               r"ablation/layer0/entropy/ascending/ablated"):
            r.networks[0].ordered("layer0", "entropy", "ascending")


def test_decode_and_parse_helpers():
    assert decode(b"relu\x00\x00") == "relu"
    assert decode(np.bytes_(b"tanh")) == "tanh"
    assert decode(np.array([b"x"])) == "x"
    assert decode(np.array([3], dtype=np.int32)) == 3 and isinstance(decode(np.int64(3)), int)
    assert decode(np.array([1, 2])) == [1, 2]
    assert decode(h5py.Empty("f")) is None
    assert parse_hidden("64,64") == (64, 64) and parse_hidden(b"64x32") == (64, 32)
    assert parse_hidden(np.array([8, 6])) == (8, 6) and parse_hidden("") is None
    assert sorted(["network", "layer10", "layer2"], key=scope_sort_key) == [
        "layer2", "layer10", "network"]


def test_attributes_missing_fall_back_on_the_name(tmp_path, version):
    path = tmp_path / "noattrs.h5"
    write_results(path, seeds=(7,), conditions=(("fashion-mnist", "tanh", (5, 4)),))
    with h5py.File(path, "r+") as f:
        g = f["networks/fashion-mnist-tanh-5x4-s7"]
        for k in list(g.attrs):
            del g.attrs[k]
    as_version(path, version)
    with Results(path) as r:
        net = r.networks[0]
        assert (net.dataset, net.activation, net.hidden, net.seed) == (
            "fashion-mnist", "tanh", (5, 4), 7)
        assert r.conditions[0].label == "fashion-mnist-tanh-5x4"
