"""Export a PyTorch multi-layer perceptron to an ioca model file.

The model file is the public contract of DESIGN.md ("Contracts other tools rely on"):

* ``/layers/K/weight`` float32 ``[out, in]`` (the ``nn.Linear`` convention) and
  ``/layers/K/bias`` float32 ``[out]``, K = 0, 1, ... in forward order;
* attribute ``activation`` on ``/layers/K``: ``relu``, ``tanh``, ``sigmoid`` or
  ``identity``; the last layer is ``identity`` (softmax is implied);
* optional root attributes ``input_mean`` and ``input_std``: the network sees
  ``(x - input_mean) / input_std`` where ``x`` is the pixel scaled to [0, 1];
* any other metadata as further root attributes.  This exporter adds
  ``ioca_model_format`` (1), ``exported_by`` and, from the command line, ``source``.

Use it from Python::

    from export_torch import export_sequential, export_state_dict
    export_sequential(model, "model.h5", input_mean=0.1307, input_std=0.3081)
    export_state_dict(model.state_dict(), "model.h5", activations="relu")

or from the command line::

    /usr/bin/python3 analysis/export_torch.py STATE.pt --out model.h5 \
        [--activation relu] [--input-mean M --input-std S]

where STATE.pt holds either a whole ``nn.Sequential`` or its ``state_dict()``
(``torch.save``).  torch is imported only when a torch object has to be handled, so
this module (and :func:`export_state_dict` on numpy arrays) works without torch.
"""

import argparse
import math
import os
import re
import sys
import tempfile

import h5py
import numpy as np

MODEL_FORMAT_VERSION = 1
EXPORTED_BY = "analysis/export_torch.py"
HIDDEN_ACTIVATIONS = ("relu", "tanh", "sigmoid", "identity")
_RESERVED_ATTRIBUTES = ("input_mean", "input_std", "ioca_model_format", "exported_by")
_KEY_PATTERN = re.compile(r"^(?:(?P<prefix>.*)\.)?(?P<index>\d+)\.(?P<kind>weight|bias)$")


def _to_numpy(value, name):
    """Return ``value`` (a torch tensor or array-like) as a float64 numpy array."""
    if hasattr(value, "detach"):  # a torch tensor; no need to import torch to convert it
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"{name}: expected a numeric array, got dtype {array.dtype}")
    return array.astype(np.float64)


def _layers_from_state_dict(state_dict):
    """Split an ``nn.Sequential`` state dict into ``[(weight, bias), ...]`` in forward order.

    Keys must look like ``"<index>.weight"`` / ``"<index>.bias"``, optionally behind one
    common prefix (``"net.0.weight"``); layers are ordered by the numeric module index.
    """
    entries, prefixes = {}, set()
    for key, value in state_dict.items():
        match = _KEY_PATTERN.match(str(key))
        if match is None:
            raise ValueError(
                f"state dict key {key!r} is not of the form '<index>.weight' or '<index>.bias' "
                "(an nn.Sequential of Linear layers and activations)")
        prefixes.add(match.group("prefix"))
        index = int(match.group("index"))
        entries.setdefault(index, {})[match.group("kind")] = _to_numpy(value, str(key))
    if not entries:
        raise ValueError("the state dict holds no layers")
    if len(prefixes) > 1:
        raise ValueError(f"state dict keys mix prefixes {sorted(map(str, prefixes))}")
    layers = []
    for index in sorted(entries):
        parts = entries[index]
        if "weight" not in parts:
            raise ValueError(f"module {index} has a bias but no weight")
        if "bias" not in parts:
            raise ValueError(f"module {index} has a weight but no bias")
        layers.append((parts["weight"], parts["bias"]))
    return layers


def _resolve_activations(activations, n_hidden):
    """Return the list of activation names of all layers (hidden ones, then 'identity')."""
    if isinstance(activations, str):
        names = [activations] * n_hidden
    else:
        names = list(activations)
        if len(names) != n_hidden:
            raise ValueError(f"got {len(names)} activations for {n_hidden} hidden layers")
    for name in names:
        if name not in HIDDEN_ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r}; use one of {', '.join(HIDDEN_ACTIVATIONS)}")
    return names + ["identity"]


def _validate_layers(layers):
    """Check that weights are 2-D and chain, biases match, and all values are finite."""
    for k, (weight, bias) in enumerate(layers):
        if weight.ndim != 2 or weight.size == 0:
            raise ValueError(f"layer {k}: weight must be a non-empty 2-D array [out, in], "
                             f"got shape {list(weight.shape)}")
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"layer {k}: bias must have shape [{weight.shape[0]}] to match "
                             f"weight {list(weight.shape)}, got {list(bias.shape)}")
        if k > 0 and weight.shape[1] != layers[k - 1][0].shape[0]:
            raise ValueError(f"layer {k}: weight {list(weight.shape)} takes {weight.shape[1]} "
                             f"inputs but layer {k - 1} gives {layers[k - 1][0].shape[0]} "
                             "(shapes must chain: [out, in] then [next_out, out])")
        for what, array in (("weight", weight), ("bias", bias)):
            if not np.all(np.isfinite(array)):
                raise ValueError(f"layer {k}: {what} holds NaN or infinite values")
            if not np.all(np.abs(array) <= np.finfo(np.float32).max):
                raise ValueError(f"layer {k}: {what} holds values too large for float32")


def _validate_input_scaling(input_mean, input_std):
    """Check the input normalisation constants."""
    if not math.isfinite(input_mean):
        raise ValueError(f"input_mean must be finite, got {input_mean}")
    if not (math.isfinite(input_std) and input_std > 0):
        raise ValueError(f"input_std must be finite and > 0, got {input_std}")


def _root_attributes(input_mean, input_std, attributes):
    """The root attributes to write: format version, exporter, scaling, then the caller's."""
    extra = dict(attributes or {})
    clash = sorted(set(extra) & set(_RESERVED_ATTRIBUTES))
    if clash:
        raise ValueError(f"attributes {clash} are set by the exporter; pass input_mean/input_std "
                         "as arguments")
    root = {"ioca_model_format": np.int64(MODEL_FORMAT_VERSION), "exported_by": EXPORTED_BY,
            "input_mean": float(input_mean), "input_std": float(input_std)}
    root.update(extra)
    return root


def _write_model(path, layers, activation_names, root_attributes):
    """Write the model file to a temporary file next to ``path``, then move it into place."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".export_torch.", suffix=".h5.part", dir=folder)
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            for name, value in root_attributes.items():
                f.attrs[name] = value
            group = f.create_group("layers")
            for k, ((weight, bias), act) in enumerate(zip(layers, activation_names)):
                g = group.create_group(str(k))
                g.create_dataset("weight", data=weight.astype(np.float32))
                g.create_dataset("bias", data=bias.astype(np.float32))
                g.attrs["activation"] = act  # a Python str: variable-length UTF-8
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _export(layers, activation_names, path, input_mean, input_std, attributes):
    """Validate everything, then write the file (nothing is written if validation fails)."""
    _validate_layers(layers)
    _validate_input_scaling(input_mean, input_std)
    _write_model(path, layers, activation_names, _root_attributes(input_mean, input_std, attributes))


def export_state_dict(state_dict, path, activations, input_mean=0.0, input_std=1.0, attributes=None):
    """Write an ``nn.Sequential`` state dict as an ioca model file.

    Args:
        state_dict: mapping of names like ``"0.weight"``, ``"0.bias"``, ``"2.weight"``, ...
            to torch tensors or numpy arrays; weights are ``[out, in]``.  Layers are
            ordered by the numeric module index.
        path: the model file to write (replaced atomically).
        activations: one name for all hidden layers, or a list with one name per hidden
            layer (``relu``, ``tanh``, ``sigmoid``, ``identity``); the last layer is
            always ``identity``.
        input_mean, input_std: input normalisation, ``(x - mean) / std`` on [0, 1] pixels.
        attributes: further root attributes (str, int, float or bool values).

    Raises:
        ValueError: keys, shapes, activations or values that do not make a valid model.
    """
    layers = _layers_from_state_dict(state_dict)
    names = _resolve_activations(activations, len(layers) - 1)
    _export(layers, names, path, input_mean, input_std, attributes)


def _sequential_layers(model):
    """Turn an ``nn.Sequential`` into ``([(weight, bias), ...], [activation, ...])``.

    Accepts Linear modules, each hidden one followed by exactly one ReLU, Tanh or Sigmoid;
    the last module must be a Linear (softmax is implied by the file format).  A Linear
    without bias gets a zero bias.
    """
    from torch import nn  # lazy: only needed for torch objects

    kinds = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid"}
    if not isinstance(model, nn.Sequential):
        raise ValueError(f"expected a torch.nn.Sequential, got {type(model).__name__}")
    layers, activations = [], []
    expect_linear = True
    for position, module in enumerate(model):
        where = f"module {position} ({type(module).__name__})"
        if isinstance(module, nn.Linear):
            if not expect_linear:
                raise ValueError(f"{where}: two Linear layers need an activation between them")
            weight = _to_numpy(module.weight, f"{where} weight")
            bias = (_to_numpy(module.bias, f"{where} bias") if module.bias is not None
                    else np.zeros(weight.shape[0]))
            layers.append((weight, bias))
            expect_linear = False
        elif type(module) in kinds:
            if expect_linear:
                raise ValueError(f"{where}: an activation must follow a Linear layer")
            activations.append(kinds[type(module)])
            expect_linear = True
        else:
            raise ValueError(f"{where}: unsupported module; only Linear, ReLU, Tanh and Sigmoid "
                             "can be exported")
    if not layers:
        raise ValueError("the Sequential holds no Linear layer")
    if expect_linear:
        raise ValueError("the Sequential must end with a Linear layer (softmax is implied)")
    return layers, activations


def export_sequential(model, path, input_mean=0.0, input_std=1.0, attributes=None):
    """Write a torch ``nn.Sequential`` of Linear and ReLU/Tanh/Sigmoid modules as a model file.

    Activations are inferred from the modules; see :func:`export_state_dict` for the other
    arguments.

    Raises:
        ValueError: unsupported modules or a layout that is not Linear (act Linear)*.
    """
    layers, activations = _sequential_layers(model)
    _export(layers, activations + ["identity"], path, input_mean, input_std, attributes)


def _load_torch_file(path):
    """Load a ``.pt`` file on the CPU.  It is a pickle: only export files you trust."""
    import inspect

    import torch  # lazy: only the command line needs it

    kwargs = {"map_location": "cpu"}
    if "weights_only" in inspect.signature(torch.load).parameters:
        kwargs["weights_only"] = False  # a whole nn.Sequential is not a plain weights file
    return torch.load(path, **kwargs)


def _activation_argument(text):
    """``--activation``: one name, or comma-separated names per hidden layer."""
    names = [name.strip() for name in text.split(",")]
    return names[0] if len(names) == 1 else names


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="export_torch.py",
        description="Export a torch nn.Sequential (or its state_dict) saved with torch.save "
                    "to an ioca model file (HDF5).")
    parser.add_argument("state", metavar="STATE.pt", help="file written by torch.save")
    parser.add_argument("--out", required=True, help="model file to write (HDF5)")
    parser.add_argument("--activation", type=_activation_argument, default=None,
                        help="hidden activation(s) for a state dict: relu | tanh | sigmoid, or "
                             "comma-separated per hidden layer (default: relu); a Sequential's "
                             "come from its modules")
    parser.add_argument("--input-mean", type=float, default=0.0,
                        help="input mean subtracted from [0, 1] pixels (default 0)")
    parser.add_argument("--input-std", type=float, default=1.0,
                        help="input standard deviation dividing [0, 1] pixels (default 1)")
    return parser.parse_args(argv)


def main(argv=None):
    """Command line entry point; returns the exit status (2 for bad input)."""
    args = _parse_args(argv)
    attributes = {"source": os.path.basename(args.state)}
    scaling = {"input_mean": args.input_mean, "input_std": args.input_std, "attributes": attributes}
    try:
        obj = _load_torch_file(args.state)
    except Exception as error:  # torch.load raises many kinds (pickle, zip, runtime errors)
        print(f"export_torch.py: {args.state}: cannot load with torch.load: {error}", file=sys.stderr)
        return 2
    try:
        if isinstance(obj, dict):
            export_state_dict(obj, args.out, args.activation or "relu", **scaling)
        elif type(obj).__name__ == "Sequential":
            if args.activation is not None:
                raise ValueError("--activation applies to state dicts only; a Sequential's "
                                 "activations come from its modules")
            export_sequential(obj, args.out, **scaling)
        else:
            raise ValueError(f"expected an nn.Sequential or a state dict, got {type(obj).__name__}")
    except (ValueError, OSError) as error:
        print(f"export_torch.py: {args.state}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
