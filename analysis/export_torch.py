"""Convert multi-layer perceptrons between PyTorch and ioca model files.

The model file is the one the README documents ("Model file"):

* ``/layers/K/weight`` float32 ``[out, in]`` (the ``nn.Linear`` convention) and
  ``/layers/K/bias`` float32 ``[out]``, K = 0, 1, ... in forward order;
* attribute ``activation`` on ``/layers/K``: ``relu``, ``tanh``, ``sigmoid`` or
  ``identity``; the last layer is ``identity`` (softmax is implied);
* root attributes ``input_mean`` and ``input_std``: the network sees
  ``(x - input_mean) / input_std`` where ``x`` is the pixel scaled to [0, 1];
* root attributes ``dataset`` and ``seed`` (the seed of ioca's random orders), and
  optionally ``validation_size`` and ``split_seed`` (ioca's split);
* optional ``/training_indices`` int64 ``[n]``: the images of the official training set
  (file order, 0-based) the model was trained on; ioca warns when the split it measures
  on shares images with them;
* this converter adds ``ioca_model_format`` (1), ``exported_by`` and ``source``.

Command line::

    export_torch.py from-torch SOURCE.pt --out model.h5 --dataset mnist --seed 3 \\
        [--activation relu] [--input-mean 0.1307 --input-std 0.3081] [--input-range 1|255] \\
        [--train-indices FILE] [--validation-size N] [--split-seed S] \\
        [--trust-pickle] [--code FILE.py]
    export_torch.py to-torch model.h5 OUT.pt [--save state_dict|module]

``from-torch`` accepts what ``torch.save`` wrote of a multi-layer perceptron:

* a state dict with any layer names (``0.weight``, ``fc1.weight``, ``net.0.weight``, ...):
  the layers run in the order of the state dict, and their shapes must chain; a state dict
  records no activations, so ``--activation`` is required;
* a whole ``nn.Sequential`` of ``Linear``, ``ReLU``/``Tanh``/``Sigmoid``, ``Flatten``,
  ``Dropout`` and ``Identity`` modules (a trailing ``Softmax``/``LogSoftmax`` is dropped:
  softmax is implied);
* a whole custom ``nn.Module`` whose ``Linear`` layers run one after another in the order
  they were registered (activations from its registered activation modules, else from
  ``--activation``, else the one of relu, tanh, sigmoid that reproduces its forward pass).

A whole module is a pickle: it is loaded only with ``--trust-pickle`` (torch.load with
``weights_only=False``), and its class must be importable (``--code FILE.py`` imports the
file that defines it).  Every module is checked by running its forward pass on random
inputs and comparing with the converted network; a module that computes anything else is
rejected.  Anything else (BatchNorm, Conv2d, GELU, ...) is rejected with a message that
names the module.

Python::

    from export_torch import export_module, export_state_dict, to_torch
    export_module(model, "model.h5", dataset="mnist", seed=3, input_mean=0.1307, input_std=0.3081)
    export_state_dict(model.state_dict(), "model.h5", "relu", dataset="mnist", seed=3)
    sequential = to_torch("model.h5")      # an nn.Sequential, plus .ioca_input_* attributes

torch is imported only when a torch object has to be handled, so this module (and
:func:`export_state_dict` on numpy arrays) works without torch.
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
_RESERVED_ATTRIBUTES = ("input_mean", "input_std", "ioca_model_format", "exported_by", "dataset",
                        "seed", "validation_size", "split_seed")
# The real data sets a torch model can be converted for: inputs, classes, training images,
# channels (channel-major inputs, as ioca and torchvision lay them out).
DATASETS = {
    "mnist": {"features": 784, "classes": 10, "train": 60000, "channels": 1, "image": (1, 28, 28)},
    "fashion-mnist": {"features": 784, "classes": 10, "train": 60000, "channels": 1,
                      "image": (1, 28, 28)},
    "cifar10": {"features": 3072, "classes": 10, "train": 50000, "channels": 3,
                "image": (3, 32, 32)},
}
_FORWARD_RTOL = 1e-4   # a module's forward pass must match the converted network this closely
_FORWARD_SAMPLES = 64


class ConversionError(ValueError):
    """A model that cannot be converted; the message says why and names the part."""


# --------------------------------------------------------------------------- arrays


def _to_numpy(value, name):
    """Return ``value`` (a torch tensor or array-like) as a float64 numpy array."""
    if hasattr(value, "detach"):  # a torch tensor; no need to import torch to convert it
        value = value.detach().cpu().double().numpy()
    array = np.asarray(value)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ConversionError(f"{name}: expected a numeric array, got dtype {array.dtype}")
    return array.astype(np.float64)


def _float32_exact(layers):
    """The layers as ioca will store them: rounded to float32, held as float64."""
    return [(w.astype(np.float32).astype(np.float64), b.astype(np.float32).astype(np.float64))
            for w, b in layers]


# --------------------------------------------------------------------------- state dicts


def _layers_from_state_dict(state_dict):
    """``[(weight, bias), ...]`` and the module names, in the order of the state dict.

    Every module (the key up to its last '.') must hold a 2-D ``weight`` and optionally a
    1-D ``bias`` (a Linear without bias gets zeros); anything else is not a Linear layer.
    """
    modules = {}  # insertion-ordered: torch.save keeps the state dict's order
    for key, value in state_dict.items():
        key = str(key)
        module, _, kind = key.rpartition(".")
        entry = modules.setdefault(module, {})
        if kind not in ("weight", "bias"):
            raise ConversionError(
                f"state dict entry {key!r}: module {module or '(root)'!r} holds {kind!r}, so it "
                "is not a Linear layer; only Linear weights and biases can be converted "
                "(BatchNorm, convolutions and other layers are not supported)")
        entry[kind] = (key, _to_numpy(value, key))
    if not modules:
        raise ConversionError("the state dict holds no layers")
    layers, names = [], []
    for module, parts in modules.items():
        label = module or "(root)"
        if "weight" not in parts:
            raise ConversionError(f"module {label!r} has a bias but no weight")
        key, weight = parts["weight"]
        if weight.ndim != 2:
            raise ConversionError(
                f"module {label!r}: weight {key!r} has shape {list(weight.shape)}, but a Linear "
                "layer's weight is 2-D [out, in] (convolutions and other layers are not supported)")
        bias = parts["bias"][1] if "bias" in parts else np.zeros(weight.shape[0])
        layers.append((weight, bias))
        names.append(label)
    return layers, names


def _check_chain(layers, names):
    """Consecutive layers must chain: layer k takes as many inputs as layer k-1 gives."""
    for k in range(1, len(layers)):
        given, taken = layers[k - 1][0].shape[0], layers[k][0].shape[1]
        if taken != given:
            raise ConversionError(
                f"layer {k} ({names[k]!r}, weight {list(layers[k][0].shape)}) takes {taken} "
                f"inputs but layer {k - 1} ({names[k - 1]!r}, weight "
                f"{list(layers[k - 1][0].shape)}) gives {given}: the layers, in the order "
                "they are stored, do not chain as a multi-layer perceptron")


# --------------------------------------------------------------------------- activations


def _resolve_activations(activations, n_hidden):
    """The activation names of all layers (hidden ones, then 'identity')."""
    if isinstance(activations, str):
        names = [activations] * n_hidden
    else:
        names = list(activations)
        if len(names) != n_hidden:
            raise ConversionError(f"got {len(names)} activations for {n_hidden} hidden layers")
    for name in names:
        if name not in HIDDEN_ACTIVATIONS:
            raise ConversionError(f"unknown activation {name!r}; use one of "
                                  f"{', '.join(HIDDEN_ACTIVATIONS)}")
    return names + ["identity"]


_NUMPY_ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)),  # overflow-free logistic
    "identity": lambda z: z,
}


def numpy_forward(layers, activations, inputs):
    """The network's logits in float64: ``inputs`` are what the first layer sees."""
    h = np.asarray(inputs, np.float64)
    for (weight, bias), act in zip(layers, activations):
        h = _NUMPY_ACTIVATIONS[act](h @ weight.T + bias)
    return h


# --------------------------------------------------------------------------- torch modules


def _module_kinds(nn):
    """Module classes by role: activations ioca has, modules that do nothing at inference,
    and final modules that softmax already implies."""
    activations = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid"}
    dropout = getattr(nn.modules.dropout, "_DropoutNd", nn.Dropout)  # Dropout, Dropout1d, ...
    skipped = (nn.Flatten, dropout, nn.Identity)
    final = (nn.Softmax, nn.LogSoftmax)
    return activations, skipped, final


def _leaf_modules(model, nn):
    """(name, module) of every module without children, and whether that is execution order.

    Inside nested ``nn.Sequential`` containers the order of the modules is the order they
    run in, repeats included (``act = nn.ReLU()`` used twice); elsewhere it is registration
    order, each module once.
    """
    leaves, in_order = [], True

    def walk(module, prefix):
        nonlocal in_order
        for name, child in module._modules.items():  # not named_children(): keeps repeats
            if child is None:
                continue
            if isinstance(child, nn.Sequential):
                walk(child, f"{prefix}{name}.")
            elif list(child.children()):  # a custom block: its order is registration order
                in_order = False
                leaves.extend((f"{prefix}{name}.{sub}", m) for sub, m in child.named_modules()
                              if sub and not list(m.children()))
            else:
                leaves.append((f"{prefix}{name}", child))

    if isinstance(model, nn.Sequential):
        walk(model, "")
        return leaves, in_order
    return [(name or type(model).__name__, module) for name, module in model.named_modules()
            if not list(module.children())], False


def _linear_layer(module, name):
    weight = _to_numpy(module.weight, f"{name}.weight")
    bias = (_to_numpy(module.bias, f"{name}.bias") if module.bias is not None
            else np.zeros(weight.shape[0]))
    return weight, bias


def _layers_from_module(model, activation_option):
    """Linear layers of a module in registration order, and the activations to try.

    Returns ``(layers, names, linears, candidates)``: candidates are lists of hidden
    activations, tried in turn by the forward check.  In an ``nn.Sequential`` the
    registration order is the order of execution, so its activation modules give the one
    candidate; a custom module may register its activations anywhere, or call them as
    functions, so its candidates are those its modules suggest, then relu, tanh, sigmoid
    and identity for every hidden layer.  ``activation_option`` (``--activation``) gives the
    only candidate.  Raises ConversionError naming any module ioca cannot represent.
    """
    from torch import nn  # lazy: only needed for torch objects

    kinds, skipped, final = _module_kinds(nn)
    leaves, sequential = _leaf_modules(model, nn)
    layers, names, linears, between = [], [], [], []
    pending = None  # the activation seen since the last Linear
    registered = []
    softmax_end = None
    for name, module in leaves:
        where = f"module {name!r} ({type(module).__name__})"
        if softmax_end is not None and sequential:
            raise ConversionError(f"{where} comes after the final {softmax_end}; the network "
                                  "must end with its last Linear layer (softmax is implied)")
        if isinstance(module, nn.Linear):
            if layers:
                between.append(pending or "identity")
            layers.append(_linear_layer(module, name))
            names.append(name)
            linears.append(module)
            pending = None
        elif type(module) in kinds:
            kind = kinds[type(module)]
            registered.append(kind)
            if sequential and not layers:
                raise ConversionError(f"{where}: an activation before the first Linear layer "
                                      "cannot be represented (ioca's inputs go straight into layer 0)")
            if sequential and pending is not None:
                raise ConversionError(f"{where}: two activations in a row ({pending}, then "
                                      f"{kind}) cannot be represented")
            pending = kind
        elif isinstance(module, skipped):
            continue  # Flatten reshapes, Dropout and Identity do nothing at inference
        elif isinstance(module, final) and (layers or not sequential):
            softmax_end = type(module).__name__
        else:
            raise ConversionError(
                f"{where} cannot be converted: ioca's networks hold only Linear layers with "
                "ReLU, Tanh or Sigmoid activations (Flatten and Dropout are skipped)")
    if not layers:
        raise ConversionError(f"the {type(model).__name__} holds no Linear layer")
    if sequential and pending is not None:
        raise ConversionError(f"the last Linear layer {names[-1]!r} is followed by the activation "
                              f"{pending}; the network must end with a Linear layer (softmax is "
                              "implied)")
    _check_chain(layers, names)
    n_hidden = len(layers) - 1
    if activation_option is not None:
        if sequential and any(a != "identity" for a in between):
            raise ConversionError("--activation applies to state dicts and to modules whose "
                                  "activations are not modules; this Sequential has its own")
        return layers, names, linears, [_resolve_activations(activation_option, n_hidden)[:-1]]
    if sequential:
        return layers, names, linears, [between]
    candidates = [between] if any(a != "identity" for a in between) else []
    for kind in list(dict.fromkeys(registered)) + ["relu", "tanh", "sigmoid", "identity"]:
        if [kind] * n_hidden not in candidates:
            candidates.append([kind] * n_hidden)
    return layers, names, linears, candidates


def _forward_check(model, layers, names, linears, candidates, dataset):
    """Run the module on random inputs and find the activations that reproduce it.

    The output of the last Linear (taken with a hook during the module's own forward pass)
    must equal the converted network's logits for one of the candidate activation lists,
    and the module's output must be those logits or their (log-)softmax.  Returns the
    hidden activations, or raises ConversionError when the module computes something else.
    """
    import torch

    n_in = layers[0][0].shape[1]
    dtype = linears[0].weight.dtype
    generator = torch.Generator().manual_seed(0)
    flat = torch.randn(_FORWARD_SAMPLES, n_in, generator=generator, dtype=torch.float64)
    captured = []
    hook = linears[-1].register_forward_hook(lambda m, i, o: captured.append(o.detach()))
    was_training = model.training
    model.eval()  # Dropout off
    try:
        with torch.no_grad():
            inputs = [flat]
            if dataset in DATASETS and DATASETS[dataset]["features"] == n_in:
                inputs.append(flat.reshape(_FORWARD_SAMPLES, *DATASETS[dataset]["image"]))
            output, errors = None, []
            for x in inputs:  # flat vectors, then images for a module that flattens itself
                try:
                    captured.clear()
                    output = model(x.to(dtype))
                    break
                except Exception as error:  # any failure of user code: try the next shape
                    errors.append(f"{type(error).__name__}: {error}")
            if output is None:
                raise ConversionError("running the module's forward pass on random inputs of "
                                      f"shape [{_FORWARD_SAMPLES}, {n_in}] failed: {errors[0]}")
    finally:
        hook.remove()
        model.train(was_training)
    if len(captured) != 1:
        raise ConversionError(f"the module's forward pass called its last Linear layer "
                              f"{names[-1]!r} {len(captured)} times, not once: it is not a chain of "
                              "its Linear layers in the order they were registered")
    logits_torch = captured[0].double().numpy()
    x = flat.to(dtype).double().numpy()
    stored = _float32_exact(layers)
    best = None
    for hidden in candidates:
        difference = _relative_difference(numpy_forward(stored, list(hidden) + ["identity"], x),
                                          logits_torch)
        if best is None or difference < best[0]:
            best = (difference, list(hidden))
    difference, hidden = best
    if not difference <= _FORWARD_RTOL:
        tried = " or ".join("(" + ", ".join(c) + ")" if c else "()" for c in candidates[:5])
        raise ConversionError(
            "the module's forward pass is not the chain of its Linear layers in registration "
            f"order ({' -> '.join(names)}) with hidden activations {tried}: its last layer's "
            f"output differs from the converted network's by {difference:.3g} (relative to its "
            "largest value); only multi-layer perceptrons can be converted")
    out = output.double().numpy() if isinstance(output, torch.Tensor) else None
    if out is None or out.shape != logits_torch.shape:
        raise ConversionError("the module's output is not the output of its last Linear layer "
                              f"{names[-1]!r}")
    shifted = logits_torch - logits_torch.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    if not any(_relative_difference(out, f) <= _FORWARD_RTOL
               for f in (logits_torch, log_softmax, np.exp(log_softmax))):
        raise ConversionError("the module's output is neither its last Linear layer's output nor "
                              "its softmax or log-softmax, so it is not a multi-layer perceptron "
                              "ending in logits")
    return hidden


def _relative_difference(a, b):
    scale = max(1.0, float(np.max(np.abs(b))))
    return float(np.max(np.abs(a - b))) / scale


# --------------------------------------------------------------------------- normalisation


def _scalar_or_channels(value, name):
    values = np.atleast_1d(np.asarray(value, dtype=np.float64))
    if values.ndim != 1 or values.size == 0:
        raise ConversionError(f"{name} must be a number or one number per channel")
    if not np.all(np.isfinite(values)):
        raise ConversionError(f"{name} must be finite, got {values.tolist()}")
    return values


def _normalisation(layers, dataset, input_mean, input_std, input_range):
    """ioca's (input_mean, input_std) for a model whose input is ``(range*x - mean) / std``.

    x is the pixel scaled to [0, 1] (as ioca and torchvision's ToTensor give it); range is
    1 for such inputs or 255 for raw pixel values.  One mean and std for all inputs are
    recorded as they are; per-channel values (one per colour channel) are folded into the
    first layer, exactly in float64, since ioca records one of each.  Returns
    ``(layers, mean, std, note)``; note describes a fold (else None).
    """
    if not (isinstance(input_range, (int, float)) and math.isfinite(input_range) and input_range > 0):
        raise ConversionError(f"input range must be > 0, got {input_range}")
    means = _scalar_or_channels(input_mean, "input mean")
    stds = _scalar_or_channels(input_std, "input std")
    if np.any(stds <= 0):
        raise ConversionError(f"input std must be > 0, got {stds.tolist()}")
    if means.size == 1 and stds.size == 1:
        mean, std = means[0] / input_range, stds[0] / input_range
        if not (abs(mean) <= np.finfo(np.float32).max and np.finfo(np.float32).tiny <= std
                <= np.finfo(np.float32).max):
            raise ConversionError(f"input normalisation mean {mean}, std {std} does not fit float32")
        return layers, float(mean), float(std), None
    channels = DATASETS[dataset]["channels"]
    for values, name in ((means, "input mean"), (stds, "input std")):
        if values.size not in (1, channels):
            raise ConversionError(f"{name} has {values.size} values, but {dataset} has {channels} "
                                  f"channel(s): give one value, or one per channel")
    means = np.broadcast_to(means, channels)
    stds = np.broadcast_to(stds, channels)
    weight, bias = layers[0]
    per_channel = weight.shape[1] // channels
    scale = np.repeat(input_range / stds, per_channel)        # d input / d x, per feature
    shift = np.repeat(means / stds, per_channel)              # input = scale * x - shift
    folded = (weight * scale[None, :], bias - weight @ shift)
    note = (f"per-channel normalisation (range*x - mean) / std with mean {means.tolist()}, std "
            f"{stds.tolist()}, range {input_range} folded into layer 0")
    return [folded] + list(layers[1:]), 0.0, 1.0, note


# --------------------------------------------------------------------------- checks and writing


def _validate_layers(layers):
    """Check that weights are 2-D and chain, biases match, and all values fit float32."""
    for k, (weight, bias) in enumerate(layers):
        if weight.ndim != 2 or weight.size == 0:
            raise ConversionError(f"layer {k}: weight must be a non-empty 2-D array [out, in], "
                                  f"got shape {list(weight.shape)}")
        if bias.shape != (weight.shape[0],):
            raise ConversionError(f"layer {k}: bias must have shape [{weight.shape[0]}] to match "
                                  f"weight {list(weight.shape)}, got {list(bias.shape)}")
        if k > 0 and weight.shape[1] != layers[k - 1][0].shape[0]:
            raise ConversionError(f"layer {k}: weight {list(weight.shape)} takes {weight.shape[1]} "
                                  f"inputs but layer {k - 1} gives {layers[k - 1][0].shape[0]} "
                                  "(shapes must chain: [out, in] then [next_out, out])")
        for what, array in (("weight", weight), ("bias", bias)):
            if not np.all(np.isfinite(array)):
                raise ConversionError(f"layer {k}: {what} holds NaN or infinite values")
            if not np.all(np.abs(array) <= np.finfo(np.float32).max):
                raise ConversionError(f"layer {k}: {what} holds values too large for float32")


def _validate_dataset(layers, dataset):
    if dataset not in DATASETS:
        raise ConversionError(f"unknown data set {dataset!r}; use one of {', '.join(DATASETS)}")
    spec = DATASETS[dataset]
    n_in, n_out = layers[0][0].shape[1], layers[-1][0].shape[0]
    if n_in != spec["features"]:
        raise ConversionError(f"the first layer takes {n_in} inputs, but {dataset} images have "
                              f"{spec['features']} pixels")
    if n_out != spec["classes"]:
        raise ConversionError(f"the last layer gives {n_out} outputs, but {dataset} has "
                              f"{spec['classes']} classes")


def _validate_seed(seed, name="seed"):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise ConversionError(f"{name} must be a whole number from 0 to 2^63 - 1, got {seed!r}")
    return int(seed)


def read_train_indices(path):
    """Indices from a text file (whitespace- or comma-separated integers) or a .npy file."""
    if str(path).endswith(".npy"):
        values = np.load(path, allow_pickle=False)
    else:
        with open(path, encoding="utf-8") as f:
            text = f.read().replace(",", " ")
        try:
            values = np.array([int(token) for token in text.split()], dtype=np.int64)
        except ValueError as error:
            raise ConversionError(f"{path}: not a list of whole numbers ({error})") from None
    return values


def _validate_train_indices(indices, dataset):
    """Sorted unique int64 indices into the official training set of the data set."""
    values = np.asarray(indices)
    if values.ndim != 1 or not (values.size == 0 or np.issubdtype(values.dtype, np.integer)):
        raise ConversionError("training indices must be a 1-D list of whole numbers")
    if values.size == 0:
        raise ConversionError("the list of training indices is empty")
    values = np.unique(values.astype(np.int64))
    n = DATASETS[dataset]["train"]
    if values[0] < 0 or values[-1] >= n:
        raise ConversionError(f"training indices must lie in 0..{n - 1} (the {n} images of "
                              f"{dataset}'s official training set), got {values[0]}..{values[-1]}")
    return values


def _write_model(path, layers, activation_names, root_attributes, train_indices):
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
            if train_indices is not None:
                f.create_dataset("training_indices", data=train_indices.astype(np.int64))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _export(layers, activation_names, path, *, dataset, seed, input_mean, input_std, input_range,
            train_indices, validation_size, split_seed, attributes):
    """Validate everything, then write the file (nothing is written if validation fails)."""
    _validate_layers(layers)
    _validate_dataset(layers, dataset)
    root = {"ioca_model_format": np.int64(MODEL_FORMAT_VERSION), "exported_by": EXPORTED_BY,
            "dataset": dataset, "seed": np.int64(_validate_seed(seed))}
    for name, value in (("validation_size", validation_size), ("split_seed", split_seed)):
        if value is not None:
            root[name] = np.int64(_validate_seed(value, name))
    if validation_size is not None and not validation_size < DATASETS[dataset]["train"]:
        raise ConversionError(f"validation size must be smaller than the "
                              f"{DATASETS[dataset]['train']} training images of {dataset}")
    layers, mean, std, note = _normalisation(layers, dataset, input_mean, input_std, input_range)
    _validate_layers(layers)  # a fold could overflow float32
    root["input_mean"], root["input_std"] = mean, std
    if note:
        root["input_normalisation_folded"] = note
    indices = None if train_indices is None else _validate_train_indices(train_indices, dataset)
    extra = dict(attributes or {})
    clash = sorted(set(extra) & set(_RESERVED_ATTRIBUTES))
    if clash:
        raise ConversionError(f"attributes {clash} are set by the converter; pass them as "
                              "arguments")
    root.update(extra)
    _write_model(path, layers, activation_names, root, indices)


def export_state_dict(state_dict, path, activations, *, dataset, seed, input_mean=0.0,
                      input_std=1.0, input_range=1.0, train_indices=None, validation_size=None,
                      split_seed=None, attributes=None):
    """Write a state dict of Linear layers as an ioca model file.

    Args:
        state_dict: mapping of ``"<module>.weight"`` / ``"<module>.bias"`` (any module
            names) to torch tensors or numpy arrays; weights are ``[out, in]``.  The layers
            run in the order of the mapping; their shapes must chain.
        path: the model file to write (replaced atomically).
        activations: one name for all hidden layers, or a list with one name per hidden
            layer (``relu``, ``tanh``, ``sigmoid``, ``identity``); the last layer is
            always ``identity``.
        dataset: ``mnist``, ``fashion-mnist`` or ``cifar10``.
        seed: recorded as the network's seed (ioca's random orders derive from it).
        input_mean, input_std, input_range: the model's input is
            ``(input_range * x - input_mean) / input_std``, x the pixel in [0, 1]; mean and
            std may hold one value per channel (folded into the first layer).
        train_indices: indices of the official training images the model was trained on.
        validation_size, split_seed: ioca's train/validation split (its defaults if None).
        attributes: further root attributes (str, int, float or bool values).

    Raises:
        ConversionError (a ValueError): anything that does not make a valid model.
    """
    layers, names = _layers_from_state_dict(state_dict)
    _check_chain(layers, names)
    activation_names = _resolve_activations(activations, len(layers) - 1)
    _export(layers, activation_names, path, dataset=dataset, seed=seed, input_mean=input_mean,
            input_std=input_std, input_range=input_range, train_indices=train_indices,
            validation_size=validation_size, split_seed=split_seed, attributes=attributes)


def export_module(model, path, *, dataset, seed, activations=None, input_mean=0.0, input_std=1.0,
                  input_range=1.0, train_indices=None, validation_size=None, split_seed=None,
                  attributes=None):
    """Write a torch module (``nn.Sequential`` or custom) as an ioca model file.

    Its Linear layers, in registration order, become ioca's layers; its ReLU, Tanh and
    Sigmoid modules give the activations (else ``activations``, else whichever of relu,
    tanh, sigmoid its forward pass reproduces).  The forward pass on random inputs must
    match the converted network.  Returns the hidden activations used.  See
    :func:`export_state_dict` for the other arguments.

    Raises:
        ConversionError: modules ioca cannot represent, or a forward pass that is not the
            chain of the Linear layers.
    """
    layers, names, linears, candidates = _layers_from_module(model, activations)
    _validate_layers(layers)
    _validate_dataset(layers, dataset)
    hidden = _forward_check(model, layers, names, linears, candidates, dataset)
    _export(layers, hidden + ["identity"], path, dataset=dataset, seed=seed, input_mean=input_mean,
            input_std=input_std, input_range=input_range, train_indices=train_indices,
            validation_size=validation_size, split_seed=split_seed, attributes=attributes)
    return hidden


# --------------------------------------------------------------------------- ioca -> torch


def read_model(path):
    """Layers, activations and root attributes of an ioca model file (h5py, float32 kept)."""
    def text(value):
        return value.decode() if isinstance(value, bytes) else str(value)

    with h5py.File(path, "r") as f:
        if "layers" not in f:
            raise ConversionError(f"{path}: no /layers group: not an ioca model file")
        count = len(f["layers"])
        layers, activations = [], []
        for k in range(count):
            if str(k) not in f["layers"]:
                raise ConversionError(f"{path}: /layers/{k} is missing")
            g = f["layers"][str(k)]
            layers.append((np.asarray(g["weight"], np.float32), np.asarray(g["bias"], np.float32)))
            activations.append(text(g.attrs["activation"]).rstrip("\0"))
        attributes = {name: f.attrs[name] for name in f.attrs}
        indices = np.asarray(f["training_indices"]) if "training_indices" in f else None
    for k, act in enumerate(activations):
        if act not in HIDDEN_ACTIVATIONS:
            raise ConversionError(f"{path}: /layers/{k} has unknown activation {act!r}")
    if activations[-1] != "identity":
        raise ConversionError(f"{path}: the last layer's activation must be identity")
    return layers, activations, attributes, indices


def to_torch(path):
    """An ioca model file as ``nn.Sequential(Linear, act, ..., Linear)`` in float32.

    The Sequential ends with logits (apply softmax for probabilities).  ioca's input
    normalisation is not a layer: the module carries it as ``ioca_input_mean`` and
    ``ioca_input_std`` (feed it ``(x - mean) / std``, x the pixel in [0, 1]).
    """
    import torch
    from torch import nn

    layers, activations, attributes, _ = read_model(path)
    modules = []
    kinds = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
    for (weight, bias), act in zip(layers, activations):
        linear = nn.Linear(weight.shape[1], weight.shape[0])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(weight))
            linear.bias.copy_(torch.from_numpy(bias))
        modules.append(linear)
        if act in kinds:
            modules.append(kinds[act]())
        elif act == "identity" and len(modules) < 2 * len(layers) - 1:
            modules.append(nn.Identity())  # keeps the Sequential's indices regular: 0, 2, 4 ...
    model = nn.Sequential(*modules)
    model.ioca_input_mean = float(attributes.get("input_mean", 0.0))
    model.ioca_input_std = float(attributes.get("input_std", 1.0))
    return model


# --------------------------------------------------------------------------- command line


def _load_torch_file(path, trust_pickle):
    """torch.load on the CPU: weights only unless the user trusts the file's pickle."""
    import inspect

    import torch  # lazy: only the command line needs it

    has_weights_only = "weights_only" in inspect.signature(torch.load).parameters
    if has_weights_only:
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # a pickled module, or not a torch file at all
            if not trust_pickle:
                raise ConversionError(
                    "cannot load it as plain weights (torch.load weights_only=True: "
                    f"{str(error).splitlines()[0] if str(error) else type(error).__name__}); if it "
                    "holds a whole module and you trust the file, add --trust-pickle "
                    "(and --code FILE.py if its class is defined in your own code)") from None
    elif not trust_pickle:
        raise ConversionError("this torch cannot load weights safely (no weights_only); add "
                              "--trust-pickle if you trust the file")
    kwargs = {"weights_only": False} if has_weights_only else {}
    try:
        return torch.load(path, map_location="cpu", **kwargs)
    except (AttributeError, ModuleNotFoundError) as error:  # the pickled class is not found
        raise ConversionError(f"cannot load it: {error}; import the code that defines the "
                              "module's class with --code FILE.py") from None
    except Exception as error:  # torch.load raises many kinds (pickle, zip, runtime errors)
        raise ConversionError(f"cannot load it with torch.load: {error}") from None


def _import_code(path):
    """Import the file that defines a pickled module's class, under its own name and as
    ``__main__``'s (a class defined in a training script is pickled as ``__main__.Name``)."""
    import importlib.util

    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None:
        raise ConversionError(f"{path}: cannot import it as Python code")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # the user's code failed: say so in one line
        raise ConversionError(f"--code {path}: importing it failed: {type(error).__name__}: "
                              f"{error}") from None
    main = sys.modules["__main__"]
    for key, value in vars(module).items():
        if isinstance(value, type) and not hasattr(main, key):
            setattr(main, key, value)


def _activation_argument(text):
    """``--activation``: one name, or comma-separated names per hidden layer."""
    names = [name.strip() for name in text.split(",")]
    return names[0] if len(names) == 1 else names


def _numbers_argument(text):
    """``--input-mean`` / ``--input-std``: one number, or comma-separated per channel."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number or comma-separated numbers: {text!r}")
    return values[0] if len(values) == 1 else values


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="export_torch.py",
        description="Convert multi-layer perceptrons between PyTorch (torch.save files) and "
                    "ioca model files (HDF5).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    src = commands.add_parser(
        "from-torch", help="a torch.save file (state dict, nn.Sequential or nn.Module) -> ioca",
        description="Write an ioca model file from a torch.save file: a state dict with any "
                    "layer names (layers in stored order), an nn.Sequential, or a custom "
                    "nn.Module whose Linear layers run in registration order (checked by a "
                    "forward pass). Flatten, Dropout and Identity are skipped; other modules "
                    "are rejected.")
    src.add_argument("source", metavar="SOURCE.pt", help="file written by torch.save")
    src.add_argument("--out", required=True, help="model file to write (HDF5)")
    src.add_argument("--dataset", required=True, choices=sorted(DATASETS),
                     help="the data set the model classifies (checked against its input size)")
    src.add_argument("--seed", required=True, type=int,
                     help="the network's seed, recorded in the model file: ioca derives its "
                          "random ablation orders from it (use the seed you trained with)")
    src.add_argument("--activation", type=_activation_argument, default=None,
                     help="hidden activation(s): relu | tanh | sigmoid | identity, or "
                          "comma-separated per hidden layer. Required for a state dict; for a "
                          "module without activation modules it is found by the forward check")
    src.add_argument("--input-mean", type=_numbers_argument, default=0.0,
                     help="the mean your input normalisation subtracts (transforms.Normalize), "
                          "one value or one per channel (default 0)")
    src.add_argument("--input-std", type=_numbers_argument, default=1.0,
                     help="the standard deviation it divides by, one value or one per channel "
                          "(default 1)")
    src.add_argument("--input-range", type=float, default=1.0,
                     help="pixel range before normalisation: 1 for pixels in [0, 1] "
                          "(transforms.ToTensor, the default) or 255 for raw pixel values")
    src.add_argument("--train-indices", metavar="FILE",
                     help="indices (0-based, into the official training set in file order) of "
                          "the images the model was trained on: whitespace- or comma-separated "
                          "text, or .npy. ioca warns when the split it measures on shares "
                          "images with them")
    src.add_argument("--validation-size", type=int, default=None,
                     help="ioca's validation split size to record (default: ioca's, 10000)")
    src.add_argument("--split-seed", type=int, default=None,
                     help="ioca's train/validation split seed to record (default: ioca's, 0)")
    src.add_argument("--trust-pickle", action="store_true",
                     help="allow loading a whole pickled module (torch.load weights_only=False); "
                          "a pickle can run code: only for files you trust")
    src.add_argument("--code", metavar="FILE.py", action="append", default=[],
                     help="import this file before loading (it defines the module's class; "
                          "its top-level code runs). Repeatable")

    dst = commands.add_parser(
        "to-torch", help="an ioca model file -> torch.save file",
        description="Write an ioca model file as a torch nn.Sequential(Linear, activation, ..., "
                    "Linear) ending in logits: its state dict (default) or the whole module.")
    dst.add_argument("model", metavar="MODEL.h5", help="ioca model file")
    dst.add_argument("out", metavar="OUT.pt", help="torch.save file to write")
    dst.add_argument("--save", choices=("state_dict", "module"), default="state_dict",
                     help="state_dict (load into the nn.Sequential printed on stdout; default) "
                          "or module (the whole nn.Sequential, a pickle)")
    return parser.parse_args(argv)


def _from_torch(args):
    import torch

    if not os.path.isfile(args.source):
        raise ConversionError("no such file")
    for path in args.code:
        _import_code(path)
    obj = _load_torch_file(args.source, args.trust_pickle)
    options = dict(dataset=args.dataset, seed=args.seed, input_mean=args.input_mean,
                   input_std=args.input_std, input_range=args.input_range,
                   validation_size=args.validation_size, split_seed=args.split_seed,
                   attributes={"source": os.path.basename(args.source)})
    if args.train_indices:
        options["train_indices"] = read_train_indices(args.train_indices)
    if isinstance(obj, dict):
        if args.activation is None:
            raise ConversionError("a state dict records no activations: give --activation "
                                  "relu|tanh|sigmoid (one, or one per hidden layer)")
        export_state_dict(obj, args.out, args.activation, **options)
        hidden = _resolve_activations(args.activation, len(_layers_from_state_dict(obj)[0]) - 1)[:-1]
        kind = "state dict"
    elif isinstance(obj, torch.nn.Module):
        hidden = export_module(obj, args.out, activations=args.activation, **options)
        kind = type(obj).__name__
    else:
        raise ConversionError(f"expected a state dict or an nn.Module, got {type(obj).__name__}")
    with h5py.File(args.out, "r") as f:
        sizes = [f["layers/0/weight"].shape[1]] + [f[f"layers/{k}/weight"].shape[0]
                                                  for k in range(len(f["layers"]))]
    print(f"export_torch.py: {args.source} ({kind}) -> {args.out}: "
          f"{'-'.join(map(str, sizes))}, hidden activations {','.join(hidden) or 'none'}, "
          f"data set {args.dataset}, seed {args.seed}", file=sys.stderr)


def _to_torch(args):
    import torch

    model = to_torch(args.model)
    folder = os.path.dirname(os.path.abspath(args.out))
    fd, tmp = tempfile.mkstemp(prefix=".export_torch.", suffix=".pt.part", dir=folder)
    os.close(fd)
    try:  # written next to OUT.pt, then moved into place: no half-written file
        torch.save(model if args.save == "module" else model.state_dict(), tmp)
        os.replace(tmp, args.out)
    except BaseException:
        os.remove(tmp)
        raise
    print(model)
    print(f"# inputs: (x - {model.ioca_input_mean!r}) / {model.ioca_input_std!r}, x the pixel "
          "in [0, 1]; outputs are logits")


def main(argv=None):
    """Command line entry point; returns the exit status (2 for bad input)."""
    args = _parse_args(argv)
    source = args.source if args.command == "from-torch" else args.model
    try:
        if args.command == "from-torch":
            _from_torch(args)
        else:
            _to_torch(args)
    except ImportError as error:
        print(f"export_torch.py: {source}: needs PyTorch (apt-get install python3-torch): {error}",
              file=sys.stderr)
        return 2
    except (ValueError, OSError, KeyError) as error:
        print(f"export_torch.py: {source}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
