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

import bisect
from typing import Dict, Iterable, List, Optional, Sequence

import h5py
import numpy as np

DATA_ARRAYS = ("f32", "f64", "i64")  # /datasets/type 0, 1, 2
DATA_DTYPES = (np.dtype("<f4"), np.dtype("<f8"), np.dtype("<i8"))
DATASET_COLUMNS = ("network", "path", "type", "offset", "ndim", "shape")
ATTRIBUTE_COLUMNS = ("network", "path", "name", "type", "text", "number", "integer")
# Reading a few extra elements between two wanted arrays beats a second HDF5 read.
MERGE_GAP = 1 << 16
# ioca's checksum: FNV-1a 64 with the prime 0x100000001b3 and the offset basis
# 1469598103934665603 (0x14650fb0739d0383). ioca has always used this basis, which is not
# the standard FNV one (14695981039346656037): kept, so version-1 files stay checkable.
FNV_OFFSET, FNV_PRIME, MASK64 = 1469598103934665603, 0x100000001B3, (1 << 64) - 1


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


def _scalar(value):
    """A table cell as a plain Python str, float or int."""
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", "replace").rstrip("\x00")
    return value.item() if isinstance(value, np.generic) else value


def fnv1a64(data: bytes) -> int:
    """ioca's 64-bit FNV-1a of a byte string (the checksum of /datasets/checksum)."""
    h = FNV_OFFSET
    for byte in data:
        h = ((h ^ byte) * FNV_PRIME) & MASK64
    return h


def checksum(values: np.ndarray) -> int:
    """FNV-1a 64 of an array's values as little-endian bytes, row-major."""
    a = np.asarray(values)
    return fnv1a64(np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes())


def checksums(rows: np.ndarray) -> np.ndarray:
    """FNV-1a 64 of each row of a uint8 matrix [N, B], all rows at once.

    FNV-1a is sequential in the bytes but independent across arrays, so a study's many
    arrays of one shape are hashed side by side (numpy's uint64 product wraps mod 2**64).
    """
    h = np.full(rows.shape[0], FNV_OFFSET, dtype=np.uint64)
    prime = np.uint64(FNV_PRIME)
    for column in rows.T:
        h ^= column
        h *= prime
    return h


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

    def __init__(self, store: "PackedFile", name: str, row: int, shape: tuple):
        self._store = store
        self._row = row
        self.name = name
        self.attrs: Dict = {}
        self.shape = shape
        self.ndim = len(shape)
        self._values: Optional[np.ndarray] = None

    @property
    def dtype(self) -> np.dtype:
        return DATA_DTYPES[self._store.types[self._row]]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def row(self) -> int:
        """This array's row in /datasets."""
        return self._row

    def read(self) -> np.ndarray:
        if self._values is None:
            self._values = self._store.read_row(self._row)
        return self._values

    def __getitem__(self, key):
        a = self.read()
        whole = key is Ellipsis or (isinstance(key, tuple) and key == ())
        return a.copy() if whole else a[key]

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
    """A read-only group of one network: members by name or 'a/b' path, decoded `attrs`.

    Nodes are made on demand from the network's path index (`PackedNetwork`), so asking
    for one curve does not build the network's whole tree.
    """

    def __init__(self, net: "PackedNetwork", rel: str, attrs: Dict):
        self._net = net
        self._rel = rel  # the path inside the network ("" for the network itself)
        self.name = f"{net.name}/{rel}" if rel else net.name
        self.attrs = attrs
        self._children: Optional[Dict[str, object]] = None

    def _join(self, path: str) -> str:
        parts = [p for p in str(path).split("/") if p]
        return "/".join(([self._rel] if self._rel else []) + parts)

    def _members(self) -> Dict[str, object]:
        if self._children is None:
            self._children = {n: self._net.node(self._join(n))
                              for n in self._net.child_names(self._rel)}
        return self._children

    def get(self, path: str, default=None):
        node = self._net.node(self._join(path))
        return default if node is None else node

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


def _prefix_range(sorted_paths: List[str], rel: str):
    """Slice of sorted_paths below `rel` ("" = all): they sort between 'rel/' and 'rel0'."""
    if not rel:
        return 0, len(sorted_paths)
    return (bisect.bisect_left(sorted_paths, rel + "/"),
            bisect.bisect_left(sorted_paths, rel + "0"))  # '0' follows '/' in ASCII


class PackedNetwork(PackedGroup):
    """A network's group: attributes at once, a path index of its rows on first use."""

    def __init__(self, store: "PackedFile", row: int, name: str, attrs: Dict):
        self.name = f"/networks/{name}"
        super().__init__(self, "", attrs)
        self._store = store
        self._row = row
        self._rows: Optional[Dict[str, int]] = None  # dataset path -> /datasets row
        self._nodes: Dict[str, object] = {}
        # Arrays read for all networks at once when the file is opened (hidden_widths).
        self._early: Dict[str, PackedDataset] = {}

    def _index(self):
        """Path -> row of the network's datasets, and its attributes by path (built once)."""
        if self._rows is None:
            paths, rows, self._attr_rows = self._store.network_rows(self._row)
            self._rows = dict(zip(paths, rows))
            self._paths = sorted(paths)
            self._attr_paths = sorted(p for p in self._attr_rows if p)

    def node(self, rel: str):
        """The dataset or group at `rel` inside the network, or None."""
        if not rel:
            return self
        if rel in self._early:
            return self._early[rel]
        if rel not in self._nodes:
            self._index()
            attrs = self._store.attributes(self._attr_rows.get(rel, ()))
            if rel in self._rows:
                row = self._rows[rel]
                node = PackedDataset(self._store, f"{self.name}/{rel}", row,
                                     self._store.shape_of(row))
                node.attrs = attrs
            elif (rel in self._attr_rows or self._below(self._paths, rel)
                  or self._below(self._attr_paths, rel)):
                node = PackedGroup(self, rel, attrs)
            else:
                node = None
            self._nodes[rel] = node
        return self._nodes[rel]

    @staticmethod
    def _below(sorted_paths: List[str], rel: str) -> bool:
        lo, hi = _prefix_range(sorted_paths, rel)
        return hi > lo

    def child_names(self, rel: str) -> List[str]:
        """Names of the members of the group at `rel`, sorted (h5py lists by name too)."""
        self._index()
        start = len(rel) + 1 if rel else 0
        names = set()
        for paths in (self._paths, self._attr_paths):
            lo, hi = _prefix_range(paths, rel)
            names.update(p[start:].split("/", 1)[0] for p in paths[lo:hi])
        return sorted(names)


class PackedFile:
    """The tables of a version-2 file, read once; `networks` maps name -> PackedNetwork."""

    def __init__(self, f: h5py.File):
        self._file = f
        self._data_sets: Dict[str, h5py.Dataset] = {}
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
        # Read once; used only for a network without attribute rows (_network_attrs).
        self._columns = {k: v[()] for k, v in g.items()
                         if isinstance(v, h5py.Dataset) and k != "name"}

    def _rows_of(self, network_index: np.ndarray, what: str):
        """Network row of each table row (-1: no such network) and the rows per network.

        Returns (net_row, order, bounds): the table rows of network i are
        order[bounds[i]:bounds[i + 1]], in file order.
        """
        if self.index.size:
            sorter = np.argsort(self.index, kind="stable")
            pos = np.searchsorted(self.index, network_index, sorter=sorter)
            candidate = sorter[np.minimum(pos, self.index.size - 1)]
            found = self.index[candidate] == network_index
            net_row = np.where(found, candidate, -1)
        else:
            found = np.zeros(network_index.shape, dtype=bool)
            net_row = np.full(network_index.shape, -1, dtype=np.int64)
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
        return {k: _scalar(v[row]) for k, v in self._columns.items()
                if v.ndim == 1 and v.shape[0] == self.names.size}

    # -- arrays -----------------------------------------------------------------------
    def shape_of(self, row: int) -> tuple:
        return tuple(self.shapes[row, :self.ndims[row]].tolist())

    def read_row(self, row: int) -> np.ndarray:
        """The array of one /datasets row (the common case: kept short, it is hot)."""
        kind = int(self.types[row])
        shape = self.shape_of(row)
        start = int(self.offsets[row])
        end = start + int(np.prod(shape, dtype=np.int64))
        data = self._data(DATA_ARRAYS[kind])
        if start < 0 or end > data.shape[0]:
            raise PackedError(f"{self.describe(row)}: values outside /data/{DATA_ARRAYS[kind]}")
        return np.asarray(data[start:end], dtype=DATA_DTYPES[kind]).reshape(shape)

    def read_rows(self, rows: Sequence[int]) -> List[np.ndarray]:
        """The arrays of some /datasets rows, shaped, with one HDF5 read per nearby group."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        out: List[Optional[np.ndarray]] = [None] * rows.size
        for t, name in enumerate(DATA_ARRAYS):
            which = np.flatnonzero(self.types[rows] == t)
            if which.size == 0:
                continue
            data = self._data(name)
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

    def _data(self, name: str) -> h5py.Dataset:
        """/data/<name>, looked up once (an h5py path look-up is not free)."""
        if name not in self._data_sets:
            data = self._file.get(f"data/{name}")
            if not isinstance(data, h5py.Dataset):
                raise PackedError(f"/data/{name}: missing")
            self._data_sets[name] = data
        return self._data_sets[name]

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
            d = PackedDataset(self, f"{net.name}/{path}", r, values.shape)
            d._values = values
            net._early[path] = d

    def verify(self, rows: Optional[Sequence[int]] = None,
               batch_bytes: int = 64 << 20) -> List[int]:
        """The /datasets rows whose values do not match their checksum (all rows by default).

        Arrays of the same type and size are read and hashed together, `batch_bytes` at a
        time (see `checksums`).
        """
        if self.checksums is None:
            raise PackedError("/datasets/checksum: missing")
        rows = np.arange(self.paths.size) if rows is None else np.asarray(rows, dtype=np.int64)
        used = np.arange(self.shapes.shape[1]) < self.ndims[:, None]  # the first ndim
        sizes = np.prod(np.where(used, self.shapes, 1), axis=1)
        nbytes = sizes * np.array([d.itemsize for d in DATA_DTYPES])[self.types]
        bad = []
        for key in np.unique(np.stack([self.types[rows], nbytes[rows]]), axis=1).T:
            same = rows[(self.types[rows] == key[0]) & (nbytes[rows] == key[1])]
            step = max(1, batch_bytes // max(int(key[1]), 1))
            for i in range(0, same.size, step):
                part = same[i:i + step]
                values = self.read_rows(part)
                matrix = np.stack([np.ascontiguousarray(v, dtype=v.dtype.newbyteorder("<"))
                                   .reshape(-1).view(np.uint8) for v in values])
                wrong = checksums(matrix) != np.asarray(self.checksums[part], dtype=np.uint64)
                bad.extend(part[wrong].tolist())
        return sorted(bad)

    # -- one network's rows ---------------------------------------------------------------
    def network_rows(self, row: int):
        """(dataset paths, their rows, {attribute path: [rows]}) of network `row`.

        Taken from the tables as Python lists in one go: per-row numpy access would
        dominate the time for a network of a few hundred arrays.
        """
        rows = self._ds_order[self._ds_bounds[row]:self._ds_bounds[row + 1]]
        attr_rows: Dict[str, List[int]] = {}
        arows = self._at_order[self._at_bounds[row]:self._at_bounds[row + 1]]
        for r, path in zip(arows.tolist(), self.attr_paths[arows].tolist()):
            attr_rows.setdefault(path, []).append(r)
        return self.paths[rows].tolist(), rows.tolist(), attr_rows

    def attributes(self, rows: Iterable[int]) -> Dict:
        return {str(self.attr_names[r]): self.attribute_value(r) for r in rows}


def network_groups(f: h5py.File) -> Dict[str, object]:
    """name -> the network's group, for a file of either version (h5py or packed)."""
    if is_packed(f):
        return dict(PackedFile(f).networks)
    return {k: v for k, v in f["networks"].items() if isinstance(v, h5py.Group)}
