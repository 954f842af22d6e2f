"""Model files written by analysis/export_torch.py (or by hand with h5py) against ioca.

Each model is evaluated by `ioca evaluate` on a tiny random MNIST-format data set and
compared with an independent float64 numpy forward pass: predictions must agree wherever
the top-2 logit margin is clear, and the loss must match the mean cross-entropy.  Broken
files must be rejected with exit status 2 and one line on stderr naming the file.  The
conversions of torch models are in test_export_torch_models.py.
"""

import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

import export_torch
from export_torch import export_state_dict

MNIST = {"dataset": "mnist", "seed": 5}

SIZES = (784, 64, 32, 10)
MARGIN = 1e-4          # predictions are compared where the top-2 logit margin exceeds this
MIN_CLEAR = 0.95       # ... which must hold for the vast majority of samples
LOSS_RTOL = 1e-5
ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "identity": lambda z: z,
}


def random_state_dict(seed, sizes=SIZES):
    """An nn.Sequential-style state dict ("0.weight", "0.bias", "2.weight", ...) of numpy arrays."""
    rng = np.random.default_rng(seed)
    state = {}
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        state[f"{2 * k}.weight"] = rng.normal(0.0, 1.5 / np.sqrt(n_in), size=(n_out, n_in)).astype(np.float32)
        state[f"{2 * k}.bias"] = rng.normal(0.0, 0.1, size=n_out).astype(np.float32)
    return state


def layers_of(state):
    """[(weight, bias), ...] in float64, ordered by module index."""
    indices = sorted({int(key.split(".")[0]) for key in state})
    return [(np.asarray(state[f"{i}.weight"], np.float64), np.asarray(state[f"{i}.bias"], np.float64))
            for i in indices]


def numpy_logits(layers, activations, x, input_mean=0.0, input_std=1.0):
    """float64 forward pass; `activations` names every layer (the last one 'identity')."""
    h = (x - input_mean) / input_std
    for (weight, bias), act in zip(layers, activations):
        h = ACTIVATIONS[act](h @ weight.T + bias)
    return h


def mean_cross_entropy(logits, labels):
    """Mean over samples of -log softmax(logits)[label], computed stably in float64."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1))
    return float(np.mean(log_norm - shifted[np.arange(len(labels)), labels]))


def assert_agrees(evaluation, logits, labels):
    """ioca's predictions and loss agree with reference logits (float64 [n, classes])."""
    assert evaluation.returncode == 0, evaluation.stderr
    assert evaluation.result["samples"] == len(labels)
    assert evaluation.predictions.shape == (len(labels),)
    top2 = np.sort(logits, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > MARGIN
    assert clear.mean() >= MIN_CLEAR, f"only {clear.mean():.1%} of samples have a clear margin"
    expected = np.argmax(logits, axis=1)
    wrong = np.flatnonzero(clear & (evaluation.predictions != expected))
    assert wrong.size == 0, f"predictions differ at samples {wrong[:10].tolist()}"
    assert evaluation.result["accuracy"] == pytest.approx(np.mean(evaluation.predictions == labels))
    assert evaluation.result["loss"] == pytest.approx(mean_cross_entropy(logits, labels), rel=LOSS_RTOL)


def write_raw_model(path, layers, activations, string_kind="vlen", root=None):
    """Write a model file with h5py directly, bypassing the exporter's checks.

    `string_kind` is "vlen" (Python str), "fixed" (numpy.bytes_, exact length) or
    "padded" (fixed length 16, null-padded).  Layers may be None to omit a dataset.
    """
    with h5py.File(path, "w") as f:
        for name, value in (root or {}).items():
            f.attrs[name] = value
        group = f.create_group("layers")
        for k, ((weight, bias), act) in enumerate(zip(layers, activations)):
            g = group.create_group(str(k))
            if weight is not None:
                g.create_dataset("weight", data=np.asarray(weight, np.float32))
            if bias is not None:
                g.create_dataset("bias", data=np.asarray(bias, np.float32))
            if act is None:
                continue
            if string_kind == "fixed":
                g.attrs["activation"] = np.bytes_(act.encode())
            elif string_kind == "padded":
                g.attrs["activation"] = np.array(act.encode(), dtype="S16")
            else:
                g.attrs["activation"] = act


# --- (a), (b): exported numpy state dicts agree with a numpy forward pass


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_exported_state_dict_matches_numpy(activation, tmp_path, tiny_mnist, evaluate):
    state = random_state_dict(seed=1)
    path = tmp_path / f"{activation}.h5"
    export_state_dict(state, path, activation, **MNIST)
    logits = numpy_logits(layers_of(state), [activation, activation, "identity"], tiny_mnist["x"])
    assert_agrees(evaluate(path), logits, tiny_mnist["y"])


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_input_normalisation_is_applied(activation, tmp_path, tiny_mnist, evaluate):
    state = random_state_dict(seed=2)
    path = tmp_path / "normalised.h5"
    export_state_dict(state, path, activation, input_mean=0.1307, input_std=0.3081, **MNIST)
    with h5py.File(path, "r") as f:
        assert f.attrs["input_mean"] == pytest.approx(0.1307)
        assert f.attrs["input_std"] == pytest.approx(0.3081)
    logits = numpy_logits(layers_of(state), [activation, activation, "identity"], tiny_mnist["x"],
                          input_mean=0.1307, input_std=0.3081)
    assert_agrees(evaluate(path), logits, tiny_mnist["y"])


def test_mixed_activations_and_file_layout(tmp_path, tiny_mnist, evaluate):
    state = random_state_dict(seed=3)
    prefixed = {f"net.{key}": value for key, value in state.items()}  # a Sequential held as .net
    path = tmp_path / "mixed.h5"
    export_state_dict(prefixed, path, ["tanh", "relu"], dataset="mnist", seed=3,
                      attributes={"note": "hello"})
    with h5py.File(path, "r") as f:
        assert sorted(f["layers"]) == ["0", "1", "2"]
        assert f["layers/0/weight"].dtype == np.float32 and f["layers/0/weight"].shape == (64, 784)
        assert f["layers/2/bias"].shape == (10,)
        assert [f[f"layers/{k}"].attrs["activation"] for k in range(3)] == ["tanh", "relu", "identity"]
        assert f.attrs["exported_by"] == "analysis/export_torch.py"
        assert f.attrs["note"] == "hello" and f.attrs["seed"] == 3 and f.attrs["dataset"] == "mnist"
        assert f.attrs["ioca_model_format"] == 1
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".part")]
    logits = numpy_logits(layers_of(state), ["tanh", "relu", "identity"], tiny_mnist["x"])
    assert_agrees(evaluate(path), logits, tiny_mnist["y"])


# --- (c): fixed-length activation strings


# "fixed": exact-size ("relu" in 4 bytes, H5T_STR_NULLPAD, as h5py writes numpy.bytes_);
# "padded": a larger fixed size. Both must load.


@pytest.mark.parametrize("string_kind", ["fixed", "padded"])
def test_fixed_length_activation_strings(string_kind, tmp_path, tiny_mnist, evaluate):
    state = random_state_dict(seed=4)
    layers = layers_of(state)
    activations = ["relu", "sigmoid", "identity"]
    path = tmp_path / f"{string_kind}.h5"
    write_raw_model(path, layers, activations, string_kind=string_kind,
                    root={"input_mean": np.float32(0.5), "input_std": np.float32(0.25)})
    with h5py.File(path, "r") as f:
        assert f["layers/0"].attrs.get_id("activation").get_type().is_variable_str() is False
    logits = numpy_logits(layers, activations, tiny_mnist["x"], input_mean=0.5, input_std=0.25)
    assert_agrees(evaluate(path), logits, tiny_mnist["y"])


# --- (d): broken files are rejected with status 2 and one stderr line naming the file


def _nan_weight(layers, activations):
    layers[1][0][3, 5] = np.nan
    return layers, activations


def _shapes_do_not_chain(layers, activations):
    weight, bias = layers[1]
    layers[1] = (weight[:, :-1], bias)
    return layers, activations


def _missing_bias(layers, activations):
    layers[1] = (layers[1][0], None)
    return layers, activations


def _bias_wrong_shape(layers, activations):
    layers[0] = (layers[0][0], layers[0][1][:-1])
    return layers, activations


def _last_layer_not_identity(layers, activations):
    return layers, activations[:-1] + ["relu"]


def _unknown_activation(layers, activations):
    return layers, ["gelu"] + activations[1:]


def _missing_activation(layers, activations):
    return layers, [activations[0], None, activations[2]]


def _infinite_bias(layers, activations):
    layers[2][1][0] = np.inf
    return layers, activations


BROKEN = {
    "nan_weight": _nan_weight,
    "shapes_do_not_chain": _shapes_do_not_chain,
    "missing_layer1_bias": _missing_bias,
    "bias_wrong_shape": _bias_wrong_shape,
    "last_layer_not_identity": _last_layer_not_identity,
    "unknown_activation": _unknown_activation,
    "missing_activation": _missing_activation,
    "infinite_bias": _infinite_bias,
}


def assert_rejected(evaluation, path):
    """Exit status 2 and exactly one stderr line that names the model file."""
    assert evaluation.returncode == 2, (evaluation.returncode, evaluation.stderr)
    lines = evaluation.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one stderr line, got:\n{evaluation.stderr}"
    assert str(path) in lines[0], lines[0]


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_model_is_rejected(name, tmp_path, evaluate):
    layers = layers_of(random_state_dict(seed=5))
    layers, activations = BROKEN[name](layers, ["relu", "relu", "identity"])
    path = tmp_path / f"{name}.h5"
    write_raw_model(path, layers, activations)
    assert_rejected(evaluate(path), path)


@pytest.mark.parametrize("root", [{"input_std": 0.0}, {"input_mean": np.nan}, {"input_std": -1.0}])
def test_bad_input_scaling_is_rejected(root, tmp_path, evaluate):
    path = tmp_path / "scaling.h5"
    write_raw_model(path, layers_of(random_state_dict(seed=6)), ["relu", "relu", "identity"], root=root)
    assert_rejected(evaluate(path), path)


def test_layer_gap_is_rejected(tmp_path, evaluate):
    path = tmp_path / "gap.h5"
    layers = layers_of(random_state_dict(seed=7, sizes=(784, 10)))
    write_raw_model(path, layers, ["identity"])
    with h5py.File(path, "a") as f:
        f.move("layers/0", "layers/1")
    assert_rejected(evaluate(path), path)


def test_wrong_input_size_is_rejected(tmp_path, evaluate):
    path = tmp_path / "input_size.h5"
    write_raw_model(path, layers_of(random_state_dict(seed=8, sizes=(100, 16, 10))),
                    ["relu", "identity"])
    assert_rejected(evaluate(path), path)


# --- (e): the exporter's own checks


def _drop_weight(state):
    del state["2.weight"]
    return state


def _break_chain(state):
    state["2.weight"] = state["2.weight"][:, :-3]
    return state


def _nan_value(state):
    state["0.weight"][0, 0] = np.nan
    return state


def _bad_bias_shape(state):
    state["4.bias"] = state["4.bias"][:, None]
    return state


def _batchnorm(state):
    state["1.running_mean"] = np.zeros(64, np.float32)
    return state


def _conv(state):
    state["0.weight"] = np.zeros((64, 1, 28, 28), np.float32)
    return state


@pytest.mark.parametrize("breaker, message", [
    (_break_chain, "do not chain"), (_drop_weight, "no weight"), (_nan_value, "NaN"),
    (_bad_bias_shape, "bias must have shape"), (_batchnorm, "'1'.*running_mean.*not a Linear"),
    (_conv, "'0'.*convolutions")])
def test_exporter_rejects_invalid_state_dict(breaker, message, tmp_path):
    path = tmp_path / "bad.h5"
    with pytest.raises(ValueError, match=message):
        export_state_dict(breaker(random_state_dict(seed=9)), path, "relu", **MNIST)
    assert os.listdir(tmp_path) == []


def test_state_dict_layer_names_and_order(tmp_path, tiny_mnist, evaluate):
    """Any module names work; the layers run in the order of the state dict, and a Linear
    without bias (only a weight) gets a zero bias."""
    state = random_state_dict(seed=14)
    named = {"encoder.fc1.weight": state["0.weight"], "encoder.fc1.bias": state["0.bias"],
             "fc_mid.weight": state["2.weight"],
             "head.weight": state["4.weight"], "head.bias": state["4.bias"]}
    path = tmp_path / "named.h5"
    export_state_dict(named, path, "tanh", **MNIST)
    with h5py.File(path, "r") as f:
        assert not np.any(f["layers/1/bias"][()])
    layers = layers_of(state)
    layers[1] = (layers[1][0], np.zeros_like(layers[1][1]))
    logits = numpy_logits(layers, ["tanh", "tanh", "identity"], tiny_mnist["x"])
    assert_agrees(evaluate(path), logits, tiny_mnist["y"])


@pytest.mark.parametrize("activations, message", [
    (["relu"], "2 hidden layers"), ("softplus", "unknown activation"), (["relu", "gelu"], "gelu")])
def test_exporter_rejects_bad_activations(activations, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        export_state_dict(random_state_dict(seed=10), tmp_path / "bad.h5", activations, **MNIST)


@pytest.mark.parametrize("kwargs, message", [
    ({"input_std": 0.0}, "std must be > 0"), ({"input_mean": float("nan")}, "finite"),
    ({"attributes": {"input_mean": 0.5}}, "set by the converter"),
    ({"attributes": {"seed": 2}}, "set by the converter"),
    ({"input_mean": [0.1, 0.2, 0.3]}, "mnist has 1 channel"),
    ({"dataset": "cifar10"}, "3072 pixels"), ({"dataset": "imagenet"}, "unknown data set"),
    ({"seed": -1}, "seed must be"), ({"seed": 1.5}, "seed must be"),
    ({"train_indices": [3, 60000]}, "0..59999"), ({"train_indices": []}, "empty"),
    ({"validation_size": 60000}, "smaller than")])
def test_exporter_rejects_bad_options(kwargs, message, tmp_path):
    options = {**MNIST, **kwargs}
    with pytest.raises(ValueError, match=message):
        export_state_dict(random_state_dict(seed=11), tmp_path / "bad.h5", "relu", **options)
    assert os.listdir(tmp_path) == []


def test_seed_and_dataset_are_required(tmp_path):
    """No imported model silently gets a default seed."""
    with pytest.raises(TypeError, match="seed"):
        export_state_dict(random_state_dict(seed=11), tmp_path / "x.h5", "relu", dataset="mnist")
    with pytest.raises(TypeError, match="dataset"):
        export_state_dict(random_state_dict(seed=11), tmp_path / "x.h5", "relu", seed=1)


def test_module_imports_without_torch():
    code = ("import sys; sys.modules['torch'] = None; sys.path.insert(0, %r); "
            "import export_torch; print('ok')" % os.path.dirname(export_torch.__file__))
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert completed.stdout.strip() == "ok", completed.stderr


