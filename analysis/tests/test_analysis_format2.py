"""Results format 2 (packed arrays + index tables): the same answers as format 1."""

import dataclasses

import h5py
import numpy as np
import pytest
from ioca_results_factory import convert_to_v2, fnv1a64, write_results

from ioca_analysis import packed, tables
from ioca_analysis.report import jsonable
from ioca_analysis.results import Results, ResultsError, decode

NET = "synthetic-relu-8x6-s2"


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """The same content as a format-1 and a format-2 file (curves recorded at 5 points)."""
    folder = tmp_path_factory.mktemp("pair")
    v1, v2 = folder / "v1.h5", folder / "v2.h5"
    written = write_results(v1, steps=5, conditions=(("synthetic", "relu", (8, 6)),
                                                     ("synthetic", "tanh", (5, 7, 3))))
    convert_to_v2(v1, v2)
    return v1, v2, written


def _same(a, b):
    """Equal JSON-like values, NaN equal to NaN."""
    assert type(a) is type(b) or {type(a), type(b)} <= {int, float}
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


def test_format1_and_format2_give_identical_tables(pair):
    v1, v2, _ = pair
    with Results(v1) as r1, Results(v2) as r2:
        assert (r1.format_version, r2.format_version) == (1, 2)
        assert r1.notes == r2.notes == []
        t1, t2 = tables.compute(r1), tables.compute(r2)
    _same(jsonable(dataclasses.asdict(t1)), jsonable(dataclasses.asdict(t2)))
    assert t1.auc and t1.spearman and t1.random_auc


def test_every_format1_dataset_and_attribute_is_in_the_format2_tree(pair):
    v1, v2, _ = pair
    with h5py.File(v1, "r") as f1, h5py.File(v2, "r") as f2:
        trees = packed.network_groups(f2)
        assert sorted(trees) == sorted(f1["networks"])
        for name, g1 in f1["networks"].items():
            g2 = trees[name]
            assert g2.name == g1.name
            assert {k: decode(v) for k, v in g1.attrs.items()} == g2.attrs

            def compare(rel, obj):
                other = g2[rel]
                assert {k: decode(v) for k, v in obj.attrs.items()} == other.attrs, rel
                if isinstance(obj, h5py.Dataset):
                    assert isinstance(other, packed.PackedDataset)
                    a, b = obj[()], other[()]
                    assert a.shape == b.shape == other.shape and a.ndim == other.ndim, rel
                    np.testing.assert_array_equal(a, b, err_msg=rel)
                else:
                    assert isinstance(other, packed.PackedGroup)
                    assert sorted(obj.keys()) == sorted(other.keys()), rel

            g1.visititems(compare)
            assert sorted(g1.keys()) == sorted(g2.keys())


def test_spec_recipe_reads_one_array(pair):
    """The plain-h5py recipe of docs/study.md, word for word."""
    v1, v2, written = pair
    f = h5py.File(v2, "r")
    names = [n.decode() for n in f["networks/name"][:]]
    net = f["networks/index"][names.index(NET)]
    paths = f["datasets/path"][:]; nets = f["datasets/network"][:]
    row = np.flatnonzero((nets == net) & (paths == b"ablation/layer0/entropy/ascending/accuracy"))[0]
    data = f["data/" + ("f32", "f64", "i64")[f["datasets/type"][row]]]
    shape = f["datasets/shape"][row][: f["datasets/ndim"][row]]
    values = data[f["datasets/offset"][row] : f["datasets/offset"][row] + np.prod(shape)].reshape(shape)
    f.close()
    np.testing.assert_array_equal(
        values, written[NET]["curves"]["layer0"][("entropy", "ascending")]["accuracy"])


def test_layout_follows_the_spec(pair):
    _, v2, _ = pair
    with h5py.File(v2, "r") as f:
        assert int(f.attrs["ioca_results_format"]) == 2
        for column in ("networks/name", "datasets/path", "attributes/path", "attributes/name",
                       "attributes/text", "tasks/key"):
            d = f[column]
            assert d.dtype.kind == "S" and h5py.check_string_dtype(d.dtype).length
        assert f["datasets/shape"].shape == (f["datasets/path"].shape[0], 3)
        assert f["datasets/type"].dtype == np.uint8 and f["datasets/checksum"].dtype == np.uint64
        total = sum(f[f"data/{k}"].size * f[f"data/{k}"].dtype.itemsize
                    for k in ("f32", "f64", "i64"))
        assert int(f.attrs["result_bytes"]) == total
        keys = [k.decode() for k in f["tasks/key"][:]]
        assert keys[0] == "0/synthetic-relu-8x6-s1/prepare"
        assert keys[1].startswith("0/synthetic-relu-8x6-s1/sweep/layer0/")


def test_checksums_fnv1a64_and_verify(pair, tmp_path):
    _, v2, _ = pair
    # ioca's FNV-1a 64 (offset basis 1469598103934665603, prime 0x100000001b3): the empty
    # string gives the basis; the int64 array [24, 16] gives what ioca (C++) stored for it.
    assert packed.fnv1a64(b"") == fnv1a64(b"") == 1469598103934665603
    assert packed.checksum(np.array([24, 16], dtype="<i8")) == 0x1B43C15130F6D04B
    # Little-endian bytes whatever the array's byte order.
    a = np.arange(5, dtype=">f8")
    assert packed.checksum(a) == fnv1a64(a.astype("<f8").tobytes())
    # Side by side, as verify does, equals one by one.
    arrays = [np.arange(k, k + 6, dtype="<f8") for k in range(4)] + [np.zeros(6, "<i8")]
    matrix = np.stack([a.view(np.uint8) for a in arrays])
    assert packed.checksums(matrix).tolist() == [fnv1a64(a.tobytes()) for a in arrays]
    assert packed.checksums(np.zeros((2, 0), np.uint8)).tolist() == [1469598103934665603] * 2
    with Results(v2) as r:
        assert r.verify() == []
        row = r._packed.rows_with_path("measures/layers/1/entropy")[0]
        where = (str(r._packed.names[r._packed.ds_net_row[row]]), int(r._packed.offsets[row]))
    bad = tmp_path / "bad.h5"
    bad.write_bytes(v2.read_bytes())
    with h5py.File(bad, "r+") as f:
        f["data/f64"][where[1] + 2] += 1.0
    with Results(bad) as r:
        assert r.verify() == [f"{where[0]}/measures/layers/1/entropy"]


def test_network_view_and_curve_table(pair):
    for path in pair[:2]:
        with Results(path) as r:
            net = r.network(NET)
            c = net.ordered("layer0", "entropy", "ascending")
            np.testing.assert_array_equal(c.ablated, [0, 2, 3, 5, 6, 8])
            with pytest.raises(KeyError, match="no network 'nope'"):
                r.network("nope")
            # One row per network that has the curve; P differs per network: padded.
            t = r.curves("layer1", "mutual_information", "descending")
            assert t.networks == [n.name for n in r.networks]
            assert t.accuracy.shape == (6, 6) and list(t.n) == [6, 6, 6, 7, 7, 7]
            for i, name in enumerate(t.networks):
                own = r.network(name).ordered("layer1", "mutual_information", "descending")
                P = own.ablated.size
                np.testing.assert_array_equal(t.accuracy[i, :P], own.accuracy)
                np.testing.assert_array_equal(t.ablated[i, :P], own.ablated)
                np.testing.assert_array_equal(t.fraction[i, :P], own.fraction)
                assert np.all(np.isnan(t.accuracy[i, P:])) and np.all(t.ablated[i, P:] == -1)
            rnd = r.curves("layer0", "random")
            assert rnd.accuracy.shape[:2] == (6, 4)
            np.testing.assert_array_equal(rnd.accuracy[0, :, :6],
                                          r.networks[0].random("layer0").accuracy)
            assert r.curves("layer2", "entropy", "ascending").networks == [
                n.name for n in r.networks if n.hidden == (5, 7, 3)]


def test_bad_format2_tables_raise_clear_errors(pair, tmp_path):
    _, v2, _ = pair

    def broken(name, change):
        path = tmp_path / name
        path.write_bytes(v2.read_bytes())
        with h5py.File(path, "r+") as f:
            change(f)
        return path

    no_names = broken("no_names.h5", lambda f: f.__delitem__("networks/name"))
    with pytest.raises(ResultsError, match=r"no_names.h5: results format 2 without the "
                                           r"table /networks/name"):
        Results(no_names)

    no_offset = broken("no_offset.h5", lambda f: f.__delitem__("datasets/offset"))
    with pytest.raises(ResultsError, match=r"no_offset.h5: datasets/offset: missing"):
        Results(no_offset)

    def bad_type(f):
        f["datasets/type"][3] = 7
    with pytest.raises(ResultsError, match=r"type.h5: /datasets/type of row 3 is 7"):
        Results(broken("type.h5", bad_type))

    def short(f):
        n = f["datasets/ndim"].shape[0]
        del f["datasets/ndim"]
        f["datasets/ndim"] = np.ones(n - 1, dtype=np.int64)
    with pytest.raises(ResultsError, match=r"short.h5: datasets/ndim: has \d+ rows"):
        Results(broken("short.h5", short))

    def orphans(f):
        f["datasets/network"][0] = 99
    with Results(broken("orphans.h5", orphans)) as r:
        assert any("1 rows of /datasets name a network not in /networks" in n
                   for n in r.notes)

    def past_the_end(f):
        f["datasets/offset"][0] = 1 << 40  # hidden_widths: read when the file is opened
    with pytest.raises(ResultsError, match=r"end.h5: /datasets row 0 "
                                           r"\(synthetic-relu-8x6-s1/hidden_widths\): "
                                           r"values outside /data/i64"):
        Results(broken("end.h5", past_the_end))

    def measure_past_the_end(f):
        paths = f["datasets/path"][:]
        row = np.flatnonzero(paths == b"measures/layers/0/entropy")[0]
        f["datasets/offset"][row] = f["data/f64"].shape[0] - 1
    with Results(broken("measure.h5", measure_past_the_end)) as r:
        with pytest.raises(ResultsError, match=r"measure.h5: /networks/synthetic-relu-8x6-s1/"
                                               r"measures/layers/0/entropy: cannot be read "
                                               r"\(.*values outside /data/f64\)"):
            r.networks[0].measure(0, "entropy")
