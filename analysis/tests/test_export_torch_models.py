"""analysis/export_torch.py on real torch models, both ways, checked by ioca's own forward.

The four common ways a PyTorch MLP is saved are converted with the command line
(``from-torch``) and evaluated by ``ioca evaluate`` on the tiny MNIST-format test split:
ioca's predictions must be torch's.  Modules ioca cannot represent are rejected with one
clear message and no file; ``to-torch`` and back gives the same bits.  Skipped without
torch (python3-torch).
"""

import importlib.util
import inspect
import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import export_torch  # noqa: E402  (after the skip: the module itself works without torch)

MEAN, STD = 0.1307, 0.3081
SIZES = (784, 32, 16, 10)

# A custom module as users write it: Linear layers as attributes, activations called as
# functions in forward(), defined in the user's own file (here written to a temporary one).
CUSTOM_MODULE_CODE = '''
import torch
from torch import nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 32)
        self.fc2 = nn.Linear(32, 16)
        self.fc3 = nn.Linear(16, 10)
        self.drop = nn.Dropout(0.2)

    def forward(self, x):
        x = torch.flatten(x, 1)
        x = self.drop(F.relu(self.fc1(x)))
        x = F.relu(self.fc2(x))
        return F.log_softmax(self.fc3(x), dim=1)


class Skip(nn.Module):
    """Not a chain: fc2's input is fc1's output plus a residual."""
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 32)
        self.fc2 = nn.Linear(32, 32)
        self.fc3 = nn.Linear(32, 10)

    def forward(self, x):
        h = torch.relu(self.fc1(x))
        h = torch.relu(self.fc2(h)) + h
        return self.fc3(h)


class Swapped(nn.Module):
    """Linear layers registered in another order than they run."""
    def __init__(self):
        super().__init__()
        self.b = nn.Linear(32, 32)
        self.a = nn.Linear(784, 32)
        self.c = nn.Linear(32, 10)

    def forward(self, x):
        return self.c(torch.tanh(self.b(torch.tanh(self.a(x)))))
'''


def user_module(tmp_path, name="mynets"):
    """Import the custom-module file as the user's module `name` (as a training script would)."""
    path = tmp_path / f"{name}.py"
    path.write_text(CUSTOM_MODULE_CODE)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module, path


def forget(name):
    """Make `name` unimportable again, as in a fresh process."""
    sys.modules.pop(name, None)


def sequential(*hidden_modules):
    """784-32-16-10 with the given modules after each hidden Linear."""
    torch.manual_seed(3)
    return nn.Sequential(nn.Linear(784, 32), *hidden_modules, nn.Linear(32, 16), *hidden_modules,
                         nn.Linear(16, 10))


def torch_predictions(model, x, scale=1.0, shape=None):
    """torch's predicted classes for pixels x in [0, 1], normalised as the model expects."""
    model.eval()
    with torch.no_grad():
        inputs = (torch.from_numpy(x.astype(np.float32)) * scale - MEAN) / STD
        if shape:
            inputs = inputs.reshape(len(x), *shape)
        out = model(inputs)
    return out.argmax(dim=1).numpy(), out.double().numpy()


def convert(args, capsys):
    """Run the command line in this process; returns (status, stderr)."""
    status = export_torch.main([str(a) for a in args])
    return status, capsys.readouterr().err


def assert_same_predictions(evaluation, predictions, outputs):
    """ioca predicts torch's classes wherever torch's top-2 margin is clear."""
    assert evaluation.returncode == 0, evaluation.stderr
    top2 = np.sort(outputs, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 1e-4
    assert clear.mean() > 0.95
    assert np.array_equal(evaluation.predictions[clear], predictions[clear])


# --- the four save styles


def _plain_state_dict(tmp_path):
    model = sequential(nn.ReLU())
    torch.save(model.state_dict(), tmp_path / "plain.pt")
    return model, ["--activation", "relu"], None


def _named_state_dict(tmp_path):
    module, _ = user_module(tmp_path, "named_nets")
    torch.manual_seed(4)
    model = module.Net()
    torch.save(model.state_dict(), tmp_path / "named.pt")  # fc1.weight, fc1.bias, fc2.weight ...
    forget("named_nets")
    return model, ["--activation", "relu"], None


def _pickled_custom_module(tmp_path):
    module, code = user_module(tmp_path, "mynets")
    torch.manual_seed(5)
    model = module.Net()
    torch.save(model, tmp_path / "custom.pt")
    forget("mynets")  # the converter must import it from --code
    return model, ["--trust-pickle", "--code", code], None


def _sequential_flatten_dropout(tmp_path):
    torch.manual_seed(6)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.Tanh(), nn.Dropout(0.5),
                          nn.Linear(32, 16), nn.Tanh(), nn.Dropout(0.5), nn.Linear(16, 10))
    torch.save(model, tmp_path / "flatten.pt")
    return model, ["--trust-pickle"], (1, 28, 28)


STYLES = {
    "plain": (_plain_state_dict, "relu"),
    "named": (_named_state_dict, "relu"),
    "custom": (_pickled_custom_module, "relu"),
    "flatten": (_sequential_flatten_dropout, "tanh"),
}
SOURCES = {"plain": "plain.pt", "named": "named.pt", "custom": "custom.pt", "flatten": "flatten.pt"}


@pytest.mark.parametrize("style", sorted(STYLES))
def test_save_style_converts_and_ioca_predicts_like_torch(style, tmp_path, capsys, tiny_mnist,
                                                          evaluate):
    make, activation = STYLES[style]
    model, extra, shape = make(tmp_path)
    out = tmp_path / "model.h5"
    status, err = convert(["from-torch", tmp_path / SOURCES[style], "--out", out, "--dataset",
                           "mnist", "--seed", "7", "--input-mean", MEAN, "--input-std", STD,
                           *extra], capsys)
    assert status == 0, err
    assert f"hidden activations {activation},{activation}" in err
    with h5py.File(out, "r") as f:
        assert f.attrs["dataset"] == "mnist" and f.attrs["seed"] == 7
        assert f.attrs["source"] == SOURCES[style]
        assert f.attrs["input_mean"] == pytest.approx(MEAN) and f.attrs["input_std"] == pytest.approx(STD)
        assert [f[f"layers/{k}/weight"].shape for k in range(3)] == [(32, 784), (16, 32), (10, 16)]
        assert [f[f"layers/{k}"].attrs["activation"] for k in range(3)] == [activation] * 2 + ["identity"]
    predictions, outputs = torch_predictions(model, tiny_mnist["x"], shape=shape)
    assert_same_predictions(evaluate(out), predictions, outputs)


def run_ioca(ioca_bin, tiny_mnist, *args):
    return subprocess.run([str(ioca_bin), *map(str, args), "--data-dir", str(tiny_mnist["dir"]),
                           "--validation-size", "50"], capture_output=True, text=True, timeout=60)


def test_raw_pixel_range_and_training_indices(tmp_path, capsys, tiny_mnist, evaluate, ioca_bin):
    """--input-range 255 (a model fed raw pixels) and --train-indices, which ioca warns about."""
    model = sequential(nn.Sigmoid())
    torch.save(model.state_dict(), tmp_path / "raw.pt")
    trained = list(range(150))  # the first 150 of the 200 training images
    (tmp_path / "trained.txt").write_text(",".join(map(str, trained[:70])) + "\n" +
                                          "\n".join(map(str, trained[70:])))
    out = tmp_path / "raw.h5"
    status, err = convert(["from-torch", tmp_path / "raw.pt", "--out", out, "--dataset", "mnist",
                           "--seed", "2", "--activation", "sigmoid", "--input-range", "255",
                           "--input-mean", MEAN, "--input-std", STD,
                           "--train-indices", tmp_path / "trained.txt"], capsys)
    assert status == 0, err
    with h5py.File(out, "r") as f:
        assert f.attrs["input_mean"] == pytest.approx(MEAN / 255)
        assert f.attrs["input_std"] == pytest.approx(STD / 255)
        assert f["training_indices"].dtype == np.int64
        assert f["training_indices"][()].tolist() == trained
    predictions, outputs = torch_predictions(model, tiny_mnist["x"], scale=255.0)
    evaluation = evaluate(out)
    assert_same_predictions(evaluation, predictions, outputs)
    assert evaluation.result["training_overlap"] == 0  # the test split is never trained on
    assert evaluation.stderr == ""
    shared = {}
    for split, size in (("validation", 50), ("train", 150)):
        completed = run_ioca(ioca_bin, tiny_mnist, "evaluate", "--model", out, "--split", split,
                             "--json")
        assert completed.returncode == 0, completed.stderr
        shared[split] = json.loads(completed.stdout)["training_overlap"]
        lines = completed.stderr.strip().splitlines()
        assert len(lines) == (1 if shared[split] else 0), completed.stderr
        if shared[split]:
            assert "warning" in lines[0] and str(out) in lines[0]
            assert f"{shared[split]} of the {size} images of the {split} split" in lines[0]
    assert shared["validation"] + shared["train"] == 150 and shared["validation"] > 0
    # --split unseen: training images 150..199, which the model never saw: no warning.
    predictions_file = tmp_path / "unseen.txt"
    completed = run_ioca(ioca_bin, tiny_mnist, "evaluate", "--model", out, "--split", "unseen",
                         "--json", "--predictions", predictions_file)
    assert completed.returncode == 0 and completed.stderr == "", completed.stderr
    assert json.loads(completed.stdout)["samples"] == 50
    with open(tiny_mnist["dir"] / "train-images-idx3-ubyte", "rb") as f:
        images = np.frombuffer(f.read()[16:], np.uint8).reshape(200, 784) / 255.0
    predictions, outputs = torch_predictions(model, images[150:], scale=255.0)
    clear = np.diff(np.sort(outputs, axis=1)[:, -2:], axis=1)[:, 0] > 1e-4
    assert np.array_equal(np.loadtxt(predictions_file, dtype=np.int64)[clear], predictions[clear])
    measured = run_ioca(ioca_bin, tiny_mnist, "measure", "--model", out, "--out", tmp_path / "m.h5")
    assert measured.returncode == 0, measured.stderr
    assert f"{shared['validation']} of the 50 images of the validation split" in measured.stderr
    with h5py.File(tmp_path / "m.h5", "r") as f:
        assert f.attrs["training_overlap"] == shared["validation"]


def test_training_indices_beyond_the_data_set_are_an_error(tmp_path, capsys, tiny_mnist, evaluate):
    """Indices valid for MNIST but not for the data set ioca loads: one error naming the file."""
    model = sequential(nn.ReLU())
    torch.save(model.state_dict(), tmp_path / "m.pt")
    (tmp_path / "trained.txt").write_text("5, 1000")
    out = tmp_path / "m.h5"
    status, err = convert(["from-torch", tmp_path / "m.pt", "--out", out, "--dataset", "mnist",
                           "--seed", "1", "--activation", "relu",
                           "--train-indices", tmp_path / "trained.txt"], capsys)
    assert status == 0, err
    evaluation = evaluate(out)
    assert evaluation.returncode == 2
    assert str(out) in evaluation.stderr and "training set of mnist has 200 images" in evaluation.stderr


def test_per_channel_normalisation_is_folded_into_the_first_layer(tmp_path):
    """CIFAR-10 style Normalize with one mean and std per colour channel."""
    torch.manual_seed(8)
    model = nn.Sequential(nn.Linear(3072, 8), nn.ReLU(), nn.Linear(8, 10))
    mean, std = [0.4914, 0.4822, 0.4465], [0.247, 0.243, 0.261]
    out = tmp_path / "cifar.h5"
    export_torch.export_module(model, out, dataset="cifar10", seed=1, input_mean=mean, input_std=std)
    layers, activations, attributes, _ = export_torch.read_model(out)
    assert attributes["input_mean"] == 0 and attributes["input_std"] == 1
    assert "folded into layer 0" in attributes["input_normalisation_folded"]
    x = np.random.default_rng(0).random((20, 3072))
    channel = np.repeat(np.arange(3), 1024)
    normalised = (x - np.array(mean)[channel]) / np.array(std)[channel]
    with torch.no_grad():
        expected = model.double()(torch.from_numpy(normalised)).numpy()
    got = export_torch.numpy_forward([(w.astype(np.float64), b.astype(np.float64)) for w, b in layers],
                                     activations, x)
    assert np.allclose(got, expected, rtol=1e-4, atol=1e-4)


# --- rejections: one message naming the problem, nothing written


class Twice(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 10)

    def forward(self, x):
        return self.fc1(x) + self.fc1(x)


@pytest.mark.parametrize("model, message", [
    (lambda: sequential(nn.BatchNorm1d(32)), r"module '1' \(BatchNorm1d\) cannot be converted"),
    (lambda: sequential(nn.GELU()), r"module '1' \(GELU\) cannot be converted"),
    (lambda: sequential(nn.LeakyReLU()), r"LeakyReLU"),
    (lambda: nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(2704, 10)), r"Conv2d"),
    (lambda: nn.Sequential(nn.Linear(784, 10), nn.ReLU()), r"followed by the activation relu"),
    (lambda: sequential(nn.ReLU(), nn.Tanh()), r"two activations in a row"),
    (lambda: nn.Sequential(nn.ReLU(), nn.Linear(784, 10)), r"before the first Linear"),
    (lambda: nn.Sequential(nn.Linear(784, 32), nn.Linear(16, 10)), r"do not chain"),
    (lambda: nn.Sequential(nn.Linear(784, 32), nn.Softmax(dim=1), nn.Linear(32, 10)),
     r"after the final Softmax"),
    (lambda: Twice(), r"called its last Linear layer 'fc1' 2 times"),
])
def test_unsupported_modules_are_rejected(model, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        export_torch.export_module(model(), tmp_path / "bad.h5", dataset="mnist", seed=1)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("name", ["Skip", "Swapped"])
def test_module_whose_forward_is_not_the_chain_is_rejected(name, tmp_path):
    module, _ = user_module(tmp_path, f"chain_{name}")
    with pytest.raises(ValueError, match=r"(not the chain of its Linear layers|do not chain)"):
        export_torch.export_module(getattr(module, name)(), tmp_path / "bad.h5", dataset="mnist",
                                   seed=1)
    assert not (tmp_path / "bad.h5").exists()
    forget(f"chain_{name}")


def test_wrong_activation_for_a_module_is_rejected(tmp_path):
    """--activation tanh for a module that computes relu: the forward check catches it."""
    module, _ = user_module(tmp_path, "wrong_act")
    with pytest.raises(ValueError, match=r"with hidden activations \(tanh, tanh\)"):
        export_torch.export_module(module.Net(), tmp_path / "bad.h5", dataset="mnist", seed=1,
                                   activations="tanh")
    forget("wrong_act")


def test_command_line_rejections(tmp_path, capsys):
    model = sequential(nn.ReLU())
    torch.save(model.state_dict(), tmp_path / "state.pt")
    torch.save(model, tmp_path / "whole.pt")
    module, code = user_module(tmp_path, "cli_nets")
    torch.save(module.Net(), tmp_path / "custom.pt")
    forget("cli_nets")
    base = ["--out", tmp_path / "x.h5", "--dataset", "mnist", "--seed", "1"]
    cases = [
        (["state.pt"], "records no activations: give --activation"),
        (["whole.pt", "--activation", "relu"], "add --trust-pickle"),
        (["custom.pt", "--trust-pickle"], "--code FILE.py"),
        (["whole.pt", "--trust-pickle", "--activation", "tanh"], "has its own"),
        (["state.pt", "--activation", "relu", "--input-mean", "0.1,0.2"], "mnist has 1 channel"),
        (["missing.pt", "--activation", "relu"], "missing.pt"),
    ]
    for args, message in cases:
        status, err = convert(["from-torch", tmp_path / args[0], *base, *args[1:]], capsys)
        lines = err.strip().splitlines()
        assert status == 2 and len(lines) == 1, (args, err)
        assert message in lines[0] and args[0] in lines[0], (args, lines[0])
        assert not (tmp_path / "x.h5").exists()
    (tmp_path / "text.h5").write_text("not HDF5")
    for source in ("text.h5", "state.pt"):  # to-torch wants an ioca model file
        status, err = convert(["to-torch", tmp_path / source, tmp_path / "out.pt"], capsys)
        assert status == 2 and len(err.strip().splitlines()) == 1 and source in err, err
        assert not [p for p in os.listdir(tmp_path) if p.startswith("out.pt") or p.endswith(".part")]
    with pytest.raises(SystemExit) as exit_info:  # argparse: --seed is required
        export_torch.main(["from-torch", str(tmp_path / "state.pt"), "--out", str(tmp_path / "x.h5"),
                           "--dataset", "mnist", "--activation", "relu"])
    assert exit_info.value.code == 2 and "--seed" in capsys.readouterr().err


# --- ioca -> torch -> ioca


@pytest.mark.parametrize("save", ["state_dict", "module"])
def test_round_trip_through_torch_keeps_every_bit(save, tmp_path, capsys, tiny_mnist, evaluate,
                                                  ioca_bin):
    trained = tmp_path / "trained.h5"
    completed = subprocess.run(
        [str(ioca_bin), "train", "--dataset", "mnist", "--data-dir", str(tiny_mnist["dir"]),
         "--validation-size", "50", "--hidden", "24,12", "--activation", "tanh", "--epochs", "1",
         "--seed", "9", "--quiet", "--out", str(trained)], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    with h5py.File(trained, "a") as f:  # a normalisation too, so the round trip must keep it
        f.attrs["input_mean"], f.attrs["input_std"] = np.float64(np.float32(MEAN)), np.float64(np.float32(STD))
    status, err = convert(["to-torch", trained, tmp_path / "net.pt", "--save", save], capsys)
    assert status == 0, err
    if save == "module":
        unsafe = ({"weights_only": False}
                  if "weights_only" in inspect.signature(torch.load).parameters else {})
        net = torch.load(tmp_path / "net.pt", **unsafe)  # our own file: a pickle we trust
        extra = ["--trust-pickle"]
    else:
        net = export_torch.to_torch(trained)
        net.load_state_dict(torch.load(tmp_path / "net.pt"))
        extra = ["--activation", "tanh"]
    assert isinstance(net, nn.Sequential)
    back = tmp_path / "back.h5"
    status, err = convert(["from-torch", tmp_path / "net.pt", "--out", back, "--dataset", "mnist",
                           "--seed", "9", "--input-mean", repr(float(np.float32(MEAN))),
                           "--input-std", repr(float(np.float32(STD))), *extra], capsys)
    assert status == 0, err
    with h5py.File(trained, "r") as a, h5py.File(back, "r") as b:
        assert sorted(a["layers"]) == sorted(b["layers"]) == ["0", "1", "2"]
        for k in a["layers"]:
            for name in ("weight", "bias"):
                x, y = a[f"layers/{k}/{name}"][()], b[f"layers/{k}/{name}"][()]
                assert x.dtype == y.dtype == np.float32 and x.tobytes() == y.tobytes()
            assert a[f"layers/{k}"].attrs["activation"] == b[f"layers/{k}"].attrs["activation"]
        for name in ("input_mean", "input_std"):
            assert np.float32(a.attrs[name]) == np.float32(b.attrs[name])
        assert b.attrs["seed"] == 9
    # ioca's forward on the original file predicts what torch's forward of the converted net does.
    predictions, outputs = torch_predictions(net, tiny_mnist["x"])
    assert_same_predictions(evaluate(trained), predictions, outputs)


def test_command_line_runs_as_a_script(tmp_path):
    """The installed entry point, in a fresh process (help lists both directions)."""
    completed = subprocess.run([sys.executable, export_torch.__file__, "--help"],
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0
    assert "from-torch" in completed.stdout and "to-torch" in completed.stdout


def test_sequential_reusing_one_activation_module(tmp_path):
    """`act = nn.ReLU()` placed after every hidden layer: each use counts, in execution order."""
    model = sequential(nn.ReLU())  # the same ReLU instance twice
    assert model[1] is model[3]
    hidden = export_torch.export_module(model, tmp_path / "m.h5", dataset="mnist", seed=1)
    assert hidden == ["relu", "relu"]
    nested = nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(784, 16), nn.Tanh()),
                           nn.Sequential(nn.Dropout(), nn.Linear(16, 10)))
    assert export_torch.export_module(nested, tmp_path / "n.h5", dataset="mnist", seed=1) == ["tanh"]


def test_study_of_a_converted_model_warns_about_the_overlap(tmp_path, capsys, tiny_mnist, ioca_bin):
    """ioca run with network.models: the model brings its split (--validation-size) and seed."""
    model = sequential(nn.ReLU())
    torch.save(model.state_dict(), tmp_path / "m.pt")
    (tmp_path / "trained.txt").write_text(" ".join(map(str, range(150))))
    status, err = convert(["from-torch", tmp_path / "m.pt", "--out", tmp_path / "m.h5", "--dataset",
                           "mnist", "--seed", "4", "--activation", "relu", "--validation-size", "50",
                           "--train-indices", tmp_path / "trained.txt"], capsys)
    assert status == 0, err
    (tmp_path / "study.ini").write_text(
        f"[data]\ndata_dir = {tiny_mnist['dir']}\n[network]\nmodels = {tmp_path / 'm.h5'}\n"
        "[ablation]\nquantities = mean_activation\nscopes = network\nrandom = 1\nsingle = false\n")
    completed = subprocess.run([str(ioca_bin), "run", "--config", str(tmp_path / "study.ini"),
                                "--out", str(tmp_path / "r.h5"), "--quiet"],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    warnings = [line for line in completed.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and warnings[0].startswith("ioca run: warning: ")
    assert "of the 50 images of the validation split" in warnings[0]
    with h5py.File(tmp_path / "r.h5", "r") as f:
        assert f.attrs["complete"] == 1
