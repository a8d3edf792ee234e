"""External MLP weights (W1, b1, ... in the y = x·W + b layout): round trips and clean errors, never unpickling."""

import json
import os

import numpy as np
import pytest
import safetensors.numpy
import torch
from helpers.bombs import npz_bomb, npz_header_lie, safetensors_file
from helpers.mnist_files import fake_mnist_args
from helpers.paths import CONFIGS

from latent_probe.errors import ConfigError, UnknownNameError
from latent_probe.models import MLPClassifier
from latent_probe.models.archives import SizeLimit, model_limit
from latent_probe.models.weights import check_finite, read_tensors, shape_mismatches


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


def test_a_folder_or_a_fifo_is_said_to_be_one_not_missing(tmp_path):
    (tmp_path / "folder.npz").mkdir()
    os.mkfifo(tmp_path / "fifo.npz")
    with pytest.raises(ConfigError, match=r"weights file '.*folder\.npz' is a directory, not a file"):
        MLPClassifier(weights=str(tmp_path / "folder.npz"))
    with pytest.raises(ConfigError, match=r"weights file '.*fifo\.npz' is not a regular file \(a FIFO\)"):
        MLPClassifier(weights=str(tmp_path / "fifo.npz"))  # would block forever if it were opened for reading


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_weights_of_nan_or_inf_are_refused(tmp_path, suffix, value):
    arrays = seed_layout_arrays()
    arrays["b2"][3] = value
    path = tmp_path / f"diverged{suffix}"
    if suffix == ".npz":
        np.savez(path, **arrays)
    else:
        safetensors.numpy.save_file(arrays, path)
    with pytest.raises(ConfigError, match=r"holds NaN or infinite values in \['b2'\] \(1 of 6 tensors\)"):
        MLPClassifier(weights=str(path))


def test_an_npy_header_declaring_more_than_its_member_is_refused_before_numpy_allocates(tmp_path):
    path = npz_header_lie(tmp_path / "lie.npz", shape=(2**40,))  # 4 TiB of float32 declared, 16 bytes held
    with pytest.raises(ConfigError, match=r"member 'W1\.npy' declares shape \(1099511627776,\) of float32 \(4 TiB\)"):
        read_tensors(path)


def test_a_weights_file_larger_than_the_model_allows_is_refused_before_reading(tmp_path):
    np.savez_compressed(tmp_path / "zeros.npz", W1=np.zeros(2**20, np.float32))  # 4 MiB, a few KB on disk
    limit = model_limit([torch.zeros(10)], "a tiny model")
    assert limit.bytes == 4 * 40 + 64 * 2**20
    read_tensors(tmp_path / "zeros.npz", limit)  # under the cap: read
    with pytest.raises(ConfigError, match=r"would take 4 MiB once read .* over the cap of 1 MiB \(test cap\)"):
        read_tensors(tmp_path / "zeros.npz", SizeLimit(2**20, "test cap"))


def test_a_real_zip_bomb_is_refused_by_its_declared_size(tmp_path):
    bomb = npz_bomb(tmp_path / "bomb.npz", size=512 * 2**20)  # 512 MiB of zeros in ~0.5 MB
    assert bomb.stat().st_size < 2**20
    with pytest.raises(ConfigError, match=r"would take 512 MiB once read .* over the cap of 6\d MiB .*the dense layers"):
        MLPClassifier(weights=str(bomb))


def test_safetensors_headers_are_checked_against_the_file(tmp_path):
    header = json.dumps({"W1": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    with pytest.raises(ConfigError, match=r"header declares 4,096 bytes, the file holds"):
        read_tensors(safetensors_file(tmp_path / "long.safetensors", header, bytes(16), declared=4096))
    with pytest.raises(ConfigError, match=r"tensor 'W1' has data_offsets \[0, 16\] outside the file's 8 data bytes"):
        read_tensors(safetensors_file(tmp_path / "short.safetensors", header, bytes(8)))
    with pytest.raises(ConfigError, match=r"its header is not JSON \(RecursionError\)"):
        read_tensors(safetensors_file(tmp_path / "deep.safetensors", b"[" * 100_000 + b"]" * 100_000))


def test_check_finite_keeps_a_mask_of_minus_inf_the_model_holds_itself():
    model_state = {"mask": torch.tensor([0.0, float("-inf")]), "w": torch.zeros(2)}
    check_finite({"mask": torch.tensor([0.0, float("-inf")]), "w": torch.ones(2)}, model_state, "weights")
    with pytest.raises(ConfigError, match=r"weights holds NaN or infinite values in \['w'\]"):
        check_finite({"mask": model_state["mask"], "w": torch.tensor([1.0, float("nan")])}, model_state, "weights")


def test_shape_mismatches_name_both_shapes():
    assert shape_mismatches({"a": torch.zeros(4, 2), "b": torch.zeros(1)}, {"a": torch.zeros(3, 2), "b": torch.zeros(1)}) == [
        "a (4, 2) vs (3, 2)"]
