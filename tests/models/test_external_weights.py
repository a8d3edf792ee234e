"""External MLP weights (W1, b1, ... in the y = x·W + b layout): round trips and clean errors, never unpickling."""

import numpy as np
import pytest
import safetensors.numpy
import torch
from helpers.mnist_files import fake_mnist_args
from helpers.paths import CONFIGS

from latent_probe.errors import ConfigError, UnknownNameError
from latent_probe.models import MLPClassifier


def seed_layout_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """Random weights shaped like the seed's ``sample_weight.pkl``: W1 784x50, b1, W2 50x100, b2, W3 100x10, b3."""
    rng = np.random.default_rng(seed)
    shapes = {"W1": (784, 50), "b1": (50,), "W2": (50, 100), "b2": (100,), "W3": (100, 10), "b3": (10,)}
    return {key: rng.normal(size=shape).astype(np.float32) for key, shape in shapes.items()}


def numpy_forward(arrays: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The seed's own forward pass: a = x·W + b, z = sigmoid(a), ..., up to the pre-softmax a3."""
    z = x
    for i in (1, 2):
        z = 1 / (1 + np.exp(-(z @ arrays[f"W{i}"] + arrays[f"b{i}"])))
    return z @ arrays["W3"] + arrays["b3"]


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_round_trip_gives_identical_outputs(tmp_path, suffix):
    trained = MLPClassifier()
    path = tmp_path / f"weights{suffix}"
    trained.export_weights(path)
    loaded = MLPClassifier(weights=str(path))
    x = torch.rand(5, 1, 28, 28)
    assert torch.equal(loaded(x), trained(x))


def test_files_follow_the_x_dot_w_layout(tmp_path):
    arrays = seed_layout_arrays()
    np.savez(tmp_path / "seed.npz", **arrays)
    model = MLPClassifier(weights=str(tmp_path / "seed.npz"))
    x = np.random.default_rng(1).random((4, 784), dtype=np.float32)
    expected = numpy_forward(arrays, x)
    assert np.allclose(model(torch.from_numpy(x)).detach().numpy(), expected, atol=1e-4)
    model.export_weights(tmp_path / "back.safetensors")
    back = safetensors.numpy.load_file(tmp_path / "back.safetensors")
    assert set(back) == set(arrays) and all(np.array_equal(back[key], arrays[key]) for key in arrays)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.update(W2=np.zeros((50, 99), np.float32)), "key 'W2' has shape (50, 99), expected (50, 100)"),
        (lambda a: a.pop("b3"), "missing key 'b3'"),
        (lambda a: a.update(W4=np.zeros((10, 10), np.float32)), "unexpected key 'W4'"),
    ],
    ids=["wrong shape", "missing key", "extra key"],
)
@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_bad_files_name_the_key_and_shapes(tmp_path, change, message, suffix):
    arrays = seed_layout_arrays()
    change(arrays)
    path = tmp_path / f"bad{suffix}"
    if suffix == ".npz":
        np.savez(path, **arrays)
    else:
        safetensors.numpy.save_file(arrays, path)
    with pytest.raises(ConfigError) as error:
        MLPClassifier(weights=str(path))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_pickled_arrays_are_refused_not_unpickled(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, W1=np.array([{"not": "an array"}], dtype=object))
    with pytest.raises(ConfigError, match="cannot read weights file"):
        MLPClassifier(weights=str(path))


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(ConfigError, match="weights file not found"):
        MLPClassifier(weights=str(tmp_path / "absent.npz"))
    with pytest.raises(UnknownNameError, match=r"unknown weights file format '\.pkl'; valid choices: \.npz"):
        MLPClassifier(weights=str(tmp_path / "sample_weight.pkl"))


def test_bad_weights_through_the_cli_is_one_line_exit_2(run_cli, tmp_path, fake_mnist):
    arrays = seed_layout_arrays()
    arrays["W1"] = arrays["W1"][:700]
    np.savez(tmp_path / "bad.npz", **arrays)
    result = run_cli("test", "--config", str(CONFIGS / "mlp_influence.yaml"), "--model.weights", str(tmp_path / "bad.npz"),
                     *fake_mnist_args(fake_mnist))
    assert result.code == 2 and "Traceback" not in result.err
    lines = [line for line in result.err.splitlines() if line.startswith("latent-probe: error:")]
    assert len(lines) == 1 and "key 'W1' has shape (700, 50), expected (784, 50)" in lines[0]


def test_pretrained_weights_are_tested_through_the_cli(run_cli, tmp_path, fake_mnist):
    np.savez(tmp_path / "seed.npz", **seed_layout_arrays())
    result = run_cli("test", "--config", str(CONFIGS / "mlp_influence.yaml"), "--model.weights", str(tmp_path / "seed.npz"),
                     *fake_mnist_args(fake_mnist))
    assert result.code == 0, result.err
    assert "test/acc" in result.out
