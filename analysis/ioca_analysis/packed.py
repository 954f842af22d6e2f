"""Reading a results file of format version 2 (docs/study.md, "format version 2").

Version 2 packs the arrays of every network into `/data/f32`, `/data/f64` and `/data/i64`
and describes them in index tables (`/networks`, `/datasets`, `/attributes`, `/tasks`).
`PackedFile` reads each table column once and presents every network as a read-only tree
of `PackedGroup` / `PackedDataset` objects that answer like the h5py groups and datasets
of a version-1 file (`.attrs`, `[path]`, `in`, `keys()`, `items()`, `get()`, `.ndim`,
`.dtype`, `[()]`), so `results.Network` reads both versions with the same code.

A network's tree is built the first time something below its root is asked for, and an
array's values are read only when it is indexed: opening a study of thousands of networks
costs a few numpy passes over the tables, not one HDF5 object per array.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Sequence

import h5py
import numpy as np

DATA_ARRAYS = ("f32", "f64", "i64")  # /datasets/type 0, 1, 2
DATA_DTYPES = (np.dtype("<f4"), np.dtype("<f8"), np.dtype("<i8"))
DATASET_COLUMNS = ("network", "path", "type", "offset", "ndim", "shape")
ATTRIBUTE_COLUMNS = ("network", "path", "name", "type", "text", "number", "integer")
# Reading a few extra elements between two wanted arrays beats a second HDF5 read.
MERGE_GAP = 1 << 16
FNV_OFFSET, FNV_PRIME, MASK64 = 0xCBF29CE484222325, 0x100000001B3, (1 << 64) - 1


class PackedError(ValueError):
    """A version-2 table is missing or inconsistent (the caller adds the file name).

    A ValueError, so that `Network` reports a bad array like any unreadable dataset."""


def is_packed(f: h5py.File) -> bool:
    """True when the file has the version-2 layout (a `/networks/name` column)."""
    nets = f.get("networks")
    return isinstance(nets, h5py.Group) and isinstance(nets.get("name"), h5py.Dataset)


def text_column(values) -> np.ndarray:
    """A string column as a numpy unicode array, NUL padding stripped."""
    a = np.asarray(values)
    if a.dtype.kind == "U":
        return np.char.rstrip(a, "\x00")
    if a.dtype.kind == "O":  # variable-length strings: not the spec, but harmless
        a = np.array([v if isinstance(v, (bytes, np.bytes_)) else str(v).encode()
                      for v in a.reshape(-1)], dtype=bytes)
    try:
        return a.astype("U")  # numpy drops trailing NULs of fixed-length bytes
    except UnicodeDecodeError:
        return np.char.decode(a, "utf-8", "replace")


def fnv1a64(data: bytes) -> int:
    """64-bit FNV-1a of a byte string (the checksum of /datasets/checksum)."""
    h = FNV_OFFSET
    for byte in data:
        h = ((h ^ byte) * FNV_PRIME) & MASK64
    return h


def checksum(values: np.ndarray) -> int:
    """FNV-1a 64 of an array's values as little-endian bytes, row-major."""
    a = np.asarray(values)
    return fnv1a64(np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes())


def read_ranges(dataset, starts: Sequence[int], counts: Sequence[int],
                gap: int = MERGE_GAP) -> List[np.ndarray]:
    """dataset[start : start + count] for each pair, with few HDF5 reads.

    Ranges are sorted and merged into windows when they are at most `gap` elements
    apart; each window is read once and cut up in memory.
    """
    starts = np.asarray(starts, dtype=np.int64).reshape(-1)
    ends = starts + np.asarray(counts, dtype=np.int64).reshape(-1)
    out: List[Optional[np.ndarray]] = [None] * starts.size
    if starts.size == 0:
        return out
    order = np.argsort(starts, kind="stable")
    s, e = starts[order], ends[order]
    reach = np.maximum.accumulate(e)
    first = np.ones(s.size, dtype=bool)
    first[1:] = s[1:] > reach[:-1] + gap
    heads = np.flatnonzero(first)
    tails = np.append(heads[1:], s.size)
    for h, t in zip(heads.tolist(), tails.tolist()):
        lo, hi = int(s[h]), int(reach[t - 1])
        block = dataset[lo:hi] if hi > lo else dataset[0:0]
        for i in range(h, t):
            out[order[i]] = block[s[i] - lo:e[i] - lo]
    return out


class PackedDataset:
    """One logical array (a row of /datasets): shape and dtype known, values read on use."""

    def __init__(self, store: "PackedFile", name: str, row: int):
        self._store = store
        self._row = row
        self.name = name
        self.attrs: Dict = {}
        self.shape = store.shape_of(row)
        self.ndim = len(self.shape)
        self.dtype = DATA_DTYPES[store.types[row]]
        self.size = int(np.prod(self.shape, dtype=np.int64))
        self._values: Optional[np.ndarray] = None

    @property
    def row(self) -> int:
        """This array's row in /datasets."""
        return self._row

    def read(self) -> np.ndarray:
        if self._values is None:
            self._values = self._store.read_rows([self._row])[0]
        return self._values

    def __getitem__(self, key):
        a = self.read()
        return a.copy() if key == () or key is Ellipsis else a[key]

    def __array__(self, dtype=None, copy=None):
        a = self.read()
        return a.astype(dtype) if dtype is not None else a.copy()

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a scalar dataset")
        return self.shape[0]

    def __repr__(self):
        return f"<PackedDataset {self.name!r}: shape {self.shape}, type {self.dtype}>"


class PackedGroup:
    """A read-only group: children by name (or 'a/b' path), decoded attributes in `attrs`."""

    def __init__(self, name: str, attrs: Optional[Dict] = None):
        self.name = name
        self.attrs: Dict = attrs if attrs is not None else {}
        self._children: Dict[str, object] = {}

    def _members(self) -> Dict[str, object]:
        return self._children

    def _child(self, name: str, make: bool = False):
        """The child `name`; with make, an empty group is created when absent."""
        members = self._members()
        if name not in members and make:
            members[name] = PackedGroup(f"{self.name.rstrip('/')}/{name}")
        return members.get(name)

    def get(self, path: str, default=None):
        node = self
        for part in (p for p in str(path).split("/") if p):
            if not isinstance(node, PackedGroup):
                return default
            node = node._child(part)
            if node is None:
                return default
        return node

    def __getitem__(self, path: str):
        node = self.get(path)
        if node is None:
            raise KeyError(f"{path!r} not in {self.name}")
        return node

    def __contains__(self, path) -> bool:
        return self.get(path) is not None

    def keys(self):
        return self._members().keys()

    def values(self):
        return self._members().values()

    def items(self):
        return self._members().items()

    def __iter__(self):
        return iter(self._members())

    def __len__(self):
        return len(self._members())

    def __repr__(self):
        return f"<PackedGroup {self.name!r} ({len(self)} members)>"


class PackedNetwork(PackedGroup):
    """A network's group: attributes at once, the tree below it on first use."""

    def __init__(self, store: "PackedFile", row: int, name: str, attrs: Dict):
        super().__init__(f"/networks/{name}", attrs)
        self._store = store
        self._row = row
        self._built = False
        # Arrays found by a vectorised look-up before the tree is built (hidden_widths).
        self._early: Dict[str, PackedDataset] = {}

    def _members(self):
        if not self._built:
            self._built = True
            self._store.build_tree(self)
        return self._children

    def get(self, path: str, default=None):
        if not self._built and path in self._early:
            return self._early[path]
        return super().get(path, default)


class PackedFile:
    """The tables of a version-2 file, read once; `networks` maps name -> PackedNetwork."""

    def __init__(self, f: h5py.File):
        self._file = f
        self.notes: List[str] = []
        self._read_networks()
        self._read_datasets()
        self._read_attributes()
        self.networks: Dict[str, PackedNetwork] = {}
        for row, name in enumerate(self.names.tolist()):
            self.networks[name] = PackedNetwork(self, row, name, self._network_attrs(row))
        self._prefetch("hidden_widths")

    # -- tables -----------------------------------------------------------------------
    def _table(self, table: str, columns: Iterable[str], optional=()) -> Dict[str, np.ndarray]:
        g = self._file.get(table)
        if not isinstance(g, h5py.Group):
            raise PackedError(f"no {table} group (format 2 needs it)")
        out, length = {}, None
        for c in list(columns) + list(optional):
            d = g.get(c)
            if not isinstance(d, h5py.Dataset):
                if c in optional:
                    continue
                raise PackedError(f"{table}/{c}: missing")
            out[c] = d[()]
            n = out[c].shape[0] if out[c].ndim else -1
            if length is None:
                length = n
            elif n != length:
                raise PackedError(f"{table}/{c}: has {n} rows, {table} has {length}")
        return out

    def _read_networks(self):
        g = self._file["networks"]
        self.names = text_column(g["name"][()])
        index = g.get("index")
        self.index = (np.asarray(index[()], dtype=np.int64) if isinstance(index, h5py.Dataset)
                      else np.arange(self.names.size, dtype=np.int64))
        if self.index.shape != self.names.shape:
            raise PackedError(f"/networks/index has {self.index.size} rows, /networks/name "
                              f"{self.names.size}")
        self._columns = {k: v for k, v in g.items()
                         if isinstance(v, h5py.Dataset) and k != "name"}

    def _rows_of(self, network_index: np.ndarray, what: str):
        """Network row of each table row (-1: no such network) and the rows per network.

        Returns (net_row, order, bounds): the table rows of network i are
        order[bounds[i]:bounds[i + 1]], in file order.
        """
        sorter = np.argsort(self.index, kind="stable")
        pos = np.searchsorted(self.index, network_index, sorter=sorter)
        pos = np.minimum(pos, max(self.index.size - 1, 0))
        found = (self.index[sorter[pos]] == network_index) if self.index.size else \
            np.zeros(network_index.shape, dtype=bool)
        net_row = np.where(found, sorter[pos] if self.index.size else -1, -1)
        missing = int(np.count_nonzero(~found))
        if missing:
            self.notes.append(f"{missing} rows of /{what} name a network not in /networks; "
                              "they are ignored")
        order = np.argsort(net_row, kind="stable")
        bounds = np.searchsorted(net_row[order], np.arange(-1, self.names.size + 1))
        return net_row, order, bounds[1:]  # bounds[0] was the start of the -1 rows

    def _read_datasets(self):
        t = self._table("datasets", DATASET_COLUMNS, optional=("checksum", "task"))
        self.dataset_network = np.asarray(t["network"], dtype=np.int64)
        self.paths = text_column(t["path"])
        self.types = np.asarray(t["type"], dtype=np.int64)
        self.offsets = np.asarray(t["offset"], dtype=np.int64)
        self.ndims = np.asarray(t["ndim"], dtype=np.int64)
        self.shapes = np.asarray(t["shape"], dtype=np.int64).reshape(self.paths.size, -1)
        self.checksums = t.get("checksum")
        bad = np.flatnonzero((self.types < 0) | (self.types >= len(DATA_ARRAYS)))
        if bad.size:
            raise PackedError(f"/datasets/type of row {bad[0]} is {self.types[bad[0]]} "
                              "(0, 1 or 2 expected)")
        if np.any(self.ndims > self.shapes.shape[1]) or np.any(self.ndims < 0):
            raise PackedError("/datasets/ndim does not fit /datasets/shape")
        self.ds_net_row, self._ds_order, self._ds_bounds = self._rows_of(
            self.dataset_network, "datasets")

    def _read_attributes(self):
        t = self._table("attributes", ATTRIBUTE_COLUMNS)
        self.attr_net_row, self._at_order, self._at_bounds = self._rows_of(
            np.asarray(t["network"], dtype=np.int64), "attributes")
        self.attr_paths = text_column(t["path"])
        self.attr_names = text_column(t["name"])
        self.attr_types = np.asarray(t["type"], dtype=np.int64)
        self.attr_text = text_column(t["text"])
        self.attr_number = np.asarray(t["number"], dtype=np.float64)
        self.attr_integer = np.asarray(t["integer"], dtype=np.int64)

    def attribute_value(self, row: int):
        """An attribute row's value as a plain Python str, float or int."""
        kind = self.attr_types[row]
        if kind == 0:
            return str(self.attr_text[row])
        if kind == 1:
            return float(self.attr_number[row])
        return int(self.attr_integer[row])

    def _network_attrs(self, row: int) -> Dict:
        """Attributes of the network group: its /attributes rows with path "".

        A file without such rows (not what the spec says, but cheap to allow) falls back
        on the /networks columns.
        """
        rows = self._at_order[self._at_bounds[row]:self._at_bounds[row + 1]]
        rows = rows[self.attr_paths[rows] == ""]
        if rows.size:
            return {self.attr_names[r]: self.attribute_value(r) for r in rows.tolist()}
        from .results import decode  # here: results imports this module
        return {k: decode(v[row]) for k, v in self._columns.items()
                if v.ndim == 1 and v.shape[0] == self.names.size}

    # -- arrays -----------------------------------------------------------------------
    def shape_of(self, row: int) -> tuple:
        return tuple(int(x) for x in self.shapes[row, :self.ndims[row]])

    def read_rows(self, rows: Sequence[int]) -> List[np.ndarray]:
        """The arrays of some /datasets rows, shaped, with one HDF5 read per nearby group."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        out: List[Optional[np.ndarray]] = [None] * rows.size
        for t, name in enumerate(DATA_ARRAYS):
            which = np.flatnonzero(self.types[rows] == t)
            if which.size == 0:
                continue
            data = self._file.get(f"data/{name}")
            if not isinstance(data, h5py.Dataset):
                raise PackedError(f"/data/{name}: missing")
            picked = rows[which]
            counts = [int(np.prod(self.shape_of(r), dtype=np.int64)) for r in picked.tolist()]
            outside = (self.offsets[picked] + counts > data.shape[0]) | (self.offsets[picked] < 0)
            if np.any(outside):
                raise PackedError(f"{self.describe(picked[outside][0])}: values outside "
                                  f"/data/{name}")
            flat = read_ranges(data, self.offsets[picked], counts)
            for i, r, values in zip(which.tolist(), picked.tolist(), flat):
                out[i] = np.asarray(values, dtype=DATA_DTYPES[t]).reshape(self.shape_of(r))
        return out

    def describe(self, row: int) -> str:
        """A /datasets row for a message: its row number and network/path."""
        net = self.ds_net_row[row]
        owner = str(self.names[net]) if net >= 0 else f"network {self.dataset_network[row]}"
        return f"/datasets row {row} ({owner}/{self.paths[row]})"

    def rows_with_path(self, path: str) -> np.ndarray:
        """/datasets rows of `path` (one per network holding it), in network order."""
        rows = np.flatnonzero((self.paths == path) & (self.ds_net_row >= 0))
        return rows[np.argsort(self.ds_net_row[rows], kind="stable")]

    def attribute_rows(self, path: str, name: str) -> np.ndarray:
        """/attributes rows of (path, name), one per network holding it, in network order."""
        rows = np.flatnonzero((self.attr_paths == path) & (self.attr_names == name)
                              & (self.attr_net_row >= 0))
        return rows[np.argsort(self.attr_net_row[rows], kind="stable")]

    def _prefetch(self, path: str):
        """Read `path` of every network in one pass (Network reads hidden_widths at once)."""
        rows = self.rows_with_path(path)
        if rows.size == 0:
            return
        for r, values in zip(rows.tolist(), self.read_rows(rows)):
            net = self.networks[str(self.names[self.ds_net_row[r]])]
            d = PackedDataset(self, f"{net.name}/{path}", r)
            d._values = values
            net._early[path] = d

    def verify(self, rows: Optional[Sequence[int]] = None) -> List[int]:
        """The /datasets rows whose values do not match their checksum (all rows by default)."""
        if self.checksums is None:
            raise PackedError("/datasets/checksum: missing")
        rows = np.arange(self.paths.size) if rows is None else np.asarray(rows, dtype=np.int64)
        bad = []
        for r, values in zip(rows.tolist(), self.read_rows(rows)):
            if checksum(values) != int(self.checksums[r]):
                bad.append(r)
        return bad

    # -- the tree of one network ----------------------------------------------------------
    def build_tree(self, net: PackedNetwork):
        """Fill a network's group with its datasets, then attach attributes to paths."""
        row = net._row
        for r in self._ds_order[self._ds_bounds[row]:self._ds_bounds[row + 1]].tolist():
            parent, leaf = self._parent(net, str(self.paths[r]))
            early = net._early.get(str(self.paths[r]))
            parent._children[leaf] = early if early is not None and early.row == r else \
                PackedDataset(self, f"{parent.name}/{leaf}", r)
        for r in self._at_order[self._at_bounds[row]:self._at_bounds[row + 1]].tolist():
            path = str(self.attr_paths[r])
            if not path:
                continue  # the network's own attributes, read already
            parent, leaf = self._parent(net, path)
            node = parent._child(leaf, make=True)
            node.attrs[str(self.attr_names[r])] = self.attribute_value(r)

    @staticmethod
    def _parent(net: PackedNetwork, path: str):
        """The group holding `path` (created as needed) and the last name of the path."""
        parts = [p for p in path.split("/") if p]
        node = net
        for part in parts[:-1]:
            child = node._child(part, make=True)
            if not isinstance(child, PackedGroup):
                raise PackedError(f"{net.name}/{path}: {part} is a dataset and a group")
            node = child
        return node, parts[-1]


def network_groups(f: h5py.File) -> Dict[str, object]:
    """name -> the network's group, for a file of either version (h5py or packed)."""
    if is_packed(f):
        return dict(PackedFile(f).networks)
    return {k: v for k, v in f["networks"].items() if isinstance(v, h5py.Group)}
