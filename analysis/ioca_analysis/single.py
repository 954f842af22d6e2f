"""A single `ioca measure --out` or `ioca ablate --out` file seen as a one-network study.

The serial files use the layouts a study stores per network (README.md, "Measures file",
"Ablation file"; docs/study.md): a measures file is a network's `measures/` group at the
root, an ablation file a network's `ablation/`, `single_neuron/` and `hidden_widths` at the
root. `MountedGroup` presents one or two such files as the group of one network, so
`results.Network` reads them with the same code as a study's networks, and every table
and figure of a report works on them.
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional, Tuple

import h5py

# Root attribute of each serial file the analysis reads, by kind.
SINGLE_KINDS = {"measures": "ioca_measures_format", "ablation": "ioca_ablation_format"}


class MountedGroup:
    """The group of one network made of HDF5 groups mounted at prefixes inside it:
    ("measures", root of a measures file) answers `measures/...`; ("", root of an
    ablation file) answers everything else. Only what `results.Network` uses: `name`,
    `attrs` (decoded) and `get(path)`."""

    def __init__(self, name: str, attrs: Dict, mounts: List[Tuple[str, h5py.Group]]):
        self.name = name
        self.attrs = attrs
        self._mounts = mounts

    def get(self, where: str, default=None):
        for prefix, group in self._mounts:
            if not prefix:
                rest = where
            elif where == prefix:
                return group
            elif where.startswith(prefix + "/"):
                rest = where[len(prefix) + 1:]
            else:
                continue
            obj = group.get(rest)
            if obj is not None:
                return obj
        return default


def find_beside(recorded: str, next_to: str) -> Optional[str]:
    """A file a serial file names (its `model` or `measures` attribute): the path as
    recorded (relative to the current folder), else the same name next to the file."""
    if not recorded:
        return None
    for candidate in (recorded, os.path.join(os.path.dirname(os.path.abspath(next_to)),
                                             os.path.basename(recorded))):
        if os.path.isfile(candidate):
            return candidate
    return None


def model_attributes(path: Optional[str]) -> Dict:
    """activation, seed, hidden widths and test accuracy of a model file ({} when it
    cannot be read): a serial file does not record them itself."""
    if not path:
        return {}
    try:
        with h5py.File(path, "r") as f:
            if "ioca_model_format" not in f.attrs or "layers" not in f:
                return {}
            out = {k: f.attrs[k] for k in ("seed", "test_accuracy", "test_loss", "dataset")
                   if k in f.attrs}
            layers = sorted((int(k) for k in f["layers"].keys() if k.isdigit()))
            if layers:
                act = f[f"layers/{layers[0]}"].attrs.get("activation")
                if act is not None:
                    out["activation"] = act
                out["hidden"] = ",".join(str(f[f"layers/{k}/weight"].shape[0])
                                         for k in layers[:-1])
            return out
    except (OSError, KeyError, ValueError):
        return {}
